import { analyse } from "chardet";
import iconv from "iconv-lite";
import { IMPORT_ENCODINGS, type ImportEncoding } from "~/imports/schema";

/**
 * The character encoding of a text file (CSV) from its first bytes: a byte order mark decides
 * (UTF-8, UTF-16 LE/BE); bytes that are valid UTF-8 are UTF-8; UTF-16 without a mark is told by
 * its zero bytes; anything else is asked of chardet (a maintained port of ICU's detector), among
 * the single-byte encodings that spreadsheet programs write for Heed's page languages:
 * Windows-1250 / ISO-8859-2 (Czech, Polish) and Windows-1252 / ISO-8859-1 (English, German,
 * French, Spanish, Portuguese).
 *
 * chardet also names the language whose letter statistics fit best. On a short Czech file it
 * may rate Windows-1252 as "Italian" a little above Windows-1250 as "Czech" (the same bytes are
 * letters in both), so a candidate whose language is one of Heed's page languages gets a bonus:
 * Heed's operators write in those languages. The operator sees the result in the preview and can
 * override it (docs/decisions/0040-import-preview-and-encodings.md).
 */

export type DetectedEncoding = {
  encoding: ImportEncoding;
  /** The file starts with a byte order mark. */
  bom: boolean;
  /** 0-100: 100 for a byte order mark or valid UTF-8; chardet's confidence otherwise. */
  confidence: number;
};

const PAGE_LANGUAGES = new Set(["en", "cs", "de", "fr", "es", "pl", "pt"]);
const LANGUAGE_BONUS = 10;

const CHARDET_NAMES: Record<string, ImportEncoding> = {
  "UTF-8": "utf-8",
  "UTF-16LE": "utf-16le",
  "UTF-16BE": "utf-16be",
  "windows-1250": "windows-1250",
  "windows-1252": "windows-1252",
  "ISO-8859-2": "iso-8859-2",
  // ISO-8859-1 and Windows-1252 agree on every printable byte; Windows-1252 (what Excel writes)
  // also reads € and the curly quotes in 0x80-0x9F.
  "ISO-8859-1": "windows-1252",
};

function isUtf8(bytes: Uint8Array): boolean {
  try {
    // `stream: true`: a character cut off at the end of the sample is not an error.
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** UTF-16 without a byte order mark: text in Latin scripts has a zero in every other byte. */
function utf16WithoutBom(bytes: Uint8Array): ImportEncoding | null {
  const n = Math.min(bytes.length, 4096) & ~1;
  if (n < 4) return null;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) even++;
    if (bytes[i + 1] === 0) odd++;
  }
  const half = n / 2;
  if (odd > half * 0.4 && even < half * 0.05) return "utf-16le";
  if (even > half * 0.4 && odd < half * 0.05) return "utf-16be";
  return null;
}

/** Whether the first bytes are UTF-16 text (a byte order mark or the zero-byte pattern). */
export function looksLikeUtf16(head: Uint8Array): boolean {
  if (head[0] === 0xff && head[1] === 0xfe) return true;
  if (head[0] === 0xfe && head[1] === 0xff) return true;
  return utf16WithoutBom(head) !== null;
}

/** The encoding of a sample of a file (its first 64 KB is plenty). Pure. */
export function detectEncoding(sample: Uint8Array): DetectedEncoding {
  const b = sample;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
    return { encoding: "utf-8", bom: true, confidence: 100 };
  }
  if (b[0] === 0xff && b[1] === 0xfe) return { encoding: "utf-16le", bom: true, confidence: 100 };
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: "utf-16be", bom: true, confidence: 100 };
  const utf16 = utf16WithoutBom(b);
  if (utf16) return { encoding: utf16, bom: false, confidence: 90 };
  if (isUtf8(b)) return { encoding: "utf-8", bom: false, confidence: 100 };
  let best: DetectedEncoding | null = null;
  let bestScore = -1;
  for (const match of analyse(b)) {
    const encoding = CHARDET_NAMES[match.name];
    if (!encoding || encoding === "utf-8" || encoding.startsWith("utf-16")) continue;
    const lang = "lang" in match ? match.lang : undefined;
    const score = match.confidence + (lang && PAGE_LANGUAGES.has(lang) ? LANGUAGE_BONUS : 0);
    if (score > bestScore) {
      best = { encoding, bom: false, confidence: match.confidence };
      bestScore = score;
    }
  }
  // Not UTF-8 and nothing chardet recognised: Windows-1252 reads every byte as something.
  return best ?? { encoding: "windows-1252", bom: false, confidence: 0 };
}

export function isImportEncoding(value: unknown): value is ImportEncoding {
  return typeof value === "string" && (IMPORT_ENCODINGS as readonly string[]).includes(value);
}

/** Text from bytes in an encoding (a byte order mark is dropped). */
export function decodeText(bytes: Buffer, encoding: ImportEncoding): string {
  return iconv.decode(bytes, encoding, { stripBOM: true });
}

/** A transform stream from bytes in an encoding to UTF-8 text (a byte order mark is dropped). */
export function decodeStream(encoding: ImportEncoding): NodeJS.ReadWriteStream {
  return iconv.decodeStream(encoding, { stripBOM: true });
}
