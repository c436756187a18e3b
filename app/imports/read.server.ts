import fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import ExcelJS from "exceljs";
import { SaxesParser } from "saxes";
import yauzl from "yauzl";
import { nextTurn } from "~/db/priority.server";
import { detectDelimiter } from "~/imports/detect";
import {
  decodeStream,
  decodeText,
  detectEncoding,
  looksLikeUtf16,
  type DetectedEncoding,
} from "~/imports/encoding.server";
import type { ImportEncoding, ImportFormat } from "~/imports/schema";
import { readXls } from "~/imports/xls.server";
import { boundXlsxExpansion } from "~/imports/xlsx-bound.server";

/**
 * Streaming readers for uploaded files. Nothing here holds a whole file in memory: CSV goes
 * through iconv-lite (from its detected or chosen encoding) and csv-parse, XLSX through exceljs's
 * streaming WorkbookReader, ODS through yauzl (a streamed zip entry) and saxes (a streaming XML
 * parser) over content.xml. Zip files are checked for bombs before any reader decompresses them
 * (checkZip, scanZip). Legacy XLS is parsed, bounded, in a worker thread (xls.server.ts).
 */

/** A problem with the file itself, shown to the operator as is. */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportFileError";
  }
}

/** One non-empty row: its line (CSV) or row number (spreadsheets), 1-based, and its cells. */
export type SheetRow = { line: number; cells: string[] };

export type ZipLimits = {
  /** Largest allowed expanded size of one entry divided by its compressed size. */
  maxRatio: number;
  /** Largest allowed expanded size of all entries together. */
  maxExpandedBytes: number;
};

const MAX_ZIP_ENTRIES = 10_000;
/** Entries smaller than this may compress as well as they like (tiny XML files do). */
const RATIO_FLOOR_BYTES = 1024 * 1024;

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

// ---------------------------------------------------------------------------------------------
// Format detection

/** The format from the first bytes (and the zip's contents), never from the name alone. */
export async function sniffFormat(filePath: string, fileName: string): Promise<ImportFormat> {
  const fd = await fs.promises.open(filePath, "r");
  let head: Buffer;
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fd.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
  if (head.length === 0) throw new ImportFileError("The file is empty.");
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    const names = await listZipEntries(filePath);
    if (names.includes("content.xml") && names.includes("mimetype")) return "ods";
    if (names.some((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n))) return "xlsx";
    throw new ImportFileError(
      "Unknown format: this zip file is neither an XLSX nor an ODS spreadsheet. Upload a CSV, XLSX, ODS or XLS file.",
    );
  }
  if (head[0] === 0xd0 && head[1] === 0xcf && head[2] === 0x11 && head[3] === 0xe0) {
    // A Compound File: an Excel 97-2003 workbook (or another Office document, which the XLS
    // reader then refuses with its own message).
    return "xls";
  }
  if (looksLikeUtf16(head)) return "csv";
  if (head.includes(0)) {
    throw new ImportFileError(
      `Unknown format: ${fileName ? `"${fileName}"` : "the file"} is not a text (CSV), XLSX, ODS or XLS file.`,
    );
  }
  return "csv";
}

// ---------------------------------------------------------------------------------------------
// Zip files: bomb guard

function openZip(filePath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      filePath,
      { lazyEntries: true, autoClose: true, validateEntrySizes: true },
      (err, zip) => {
        if (err || !zip)
          reject(
            new ImportFileError(
              `The file is not a valid zip archive (${err?.message ?? "unreadable"}).`,
            ),
          );
        else resolve(zip);
      },
    );
  });
}

async function* zipEntries(zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  const queue: yauzl.Entry[] = [];
  let done = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  zip.on("entry", (e: yauzl.Entry) => {
    queue.push(e);
    notify();
  });
  zip.on("end", () => {
    done = true;
    notify();
  });
  zip.on("error", (e: Error) => {
    failure = e;
    notify();
  });
  try {
    for (;;) {
      zip.readEntry();
      while (queue.length === 0 && !done && !failure) {
        await new Promise<void>((r) => (wake = r));
      }
      if (failure)
        throw new ImportFileError(`The zip archive is damaged (${(failure as Error).message}).`);
      const e = queue.shift();
      if (!e) return;
      yield e;
    }
  } finally {
    zip.close();
  }
}

async function listZipEntries(filePath: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of zipEntries(await openZip(filePath))) {
    names.push(e.fileName);
    if (names.length > MAX_ZIP_ENTRIES) break;
  }
  return names;
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream)
        reject(
          new ImportFileError(
            `The zip archive is damaged (${err?.message ?? "unreadable entry"}).`,
          ),
        );
      else resolve(stream);
    });
  });
}

function declaredProblem(
  entries: { name: string; compressed: number; expanded: number }[],
  limits: ZipLimits,
): string | null {
  if (entries.length > MAX_ZIP_ENTRIES) return `it holds more than ${MAX_ZIP_ENTRIES} files`;
  let total = 0;
  for (const e of entries) {
    total += e.expanded;
    if (
      e.expanded > RATIO_FLOOR_BYTES &&
      e.expanded / Math.max(e.compressed, 1) > limits.maxRatio
    ) {
      return `${e.name} expands ${Math.round(e.expanded / Math.max(e.compressed, 1))} times (${mb(e.compressed)} to ${mb(e.expanded)}; at most ${limits.maxRatio} times is allowed)`;
    }
    if (total > limits.maxExpandedBytes) {
      return `it expands to more than ${mb(limits.maxExpandedBytes)}`;
    }
  }
  return null;
}

/**
 * Checks the sizes a zip file declares (its central directory) without decompressing anything:
 * the compression ratio of each entry and the total expanded size. Fast: run it on upload.
 */
export async function checkZip(filePath: string, limits: ZipLimits): Promise<void> {
  const entries: { name: string; compressed: number; expanded: number }[] = [];
  for await (const e of zipEntries(await openZip(filePath))) {
    entries.push({ name: e.fileName, compressed: e.compressedSize, expanded: e.uncompressedSize });
    if (entries.length > MAX_ZIP_ENTRIES) break;
  }
  const problem = declaredProblem(entries, limits);
  if (problem) throw new ImportFileError(`Refused as a possible zip bomb: ${problem}.`);
}

/**
 * Decompresses every entry as a stream and counts the bytes that actually come out (yauzl also
 * refuses an entry that yields more than it declared), so a file that lies about its sizes is
 * refused before any row is imported. Counts the rows of the worksheet on the way (a cheap count
 * of row elements). `onProgress` is called now and then (to renew a job's lease).
 */
export async function scanZip(
  filePath: string,
  format: "xlsx" | "ods",
  limits: ZipLimits,
  onProgress?: () => Promise<void>,
): Promise<{ rows: number }> {
  await checkZip(filePath, limits);
  const zip = await openZip(filePath);
  let total = 0;
  let rows = 0;
  let sheetCounted = false;
  const marker = Buffer.from(format === "xlsx" ? "<row" : "<table:table-row");
  let lastProgress = Date.now();
  for await (const entry of zipEntries(zip)) {
    if (entry.fileName.endsWith("/")) continue;
    const countRows =
      !sheetCounted &&
      (format === "xlsx"
        ? /^xl\/worksheets\/sheet\d+\.xml$/.test(entry.fileName)
        : entry.fileName === "content.xml");
    if (countRows) sheetCounted = true;
    const stream = await openEntry(zip, entry);
    let size = 0;
    let tail = Buffer.alloc(0);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        total += chunk.length;
        if (total > limits.maxExpandedBytes) {
          throw new ImportFileError(
            `Refused as a possible zip bomb: it expands to more than ${mb(limits.maxExpandedBytes)}.`,
          );
        }
        if (
          size > RATIO_FLOOR_BYTES &&
          size / Math.max(entry.compressedSize, 1) > limits.maxRatio
        ) {
          throw new ImportFileError(
            `Refused as a possible zip bomb: ${entry.fileName} expands more than ${limits.maxRatio} times.`,
          );
        }
        if (countRows) {
          const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
          for (let i = buf.indexOf(marker); i !== -1; i = buf.indexOf(marker, i + 1)) {
            // <row ...> or <row>, not <rows...>; <table:table-row ...>, not -rows or -row-group.
            const next = buf[i + marker.length];
            if (next === undefined) break;
            if (
              next === 0x20 ||
              next === 0x3e ||
              next === 0x2f ||
              next === 0x0a ||
              next === 0x0d ||
              next === 0x09
            ) {
              rows++;
            }
          }
          // Keep the last bytes: a marker may straddle two chunks (re-counted only if complete).
          const keep = Math.min(buf.length, marker.length);
          const cut = buf.subarray(buf.length - keep);
          tail = Buffer.from(
            cut.includes(0x3c) ? cut.subarray(cut.lastIndexOf(0x3c)) : Buffer.alloc(0),
          );
        }
        if (onProgress && Date.now() - lastProgress > 5_000) {
          lastProgress = Date.now();
          await onProgress();
        }
      }
    } catch (e) {
      stream.destroy();
      if (e instanceof ImportFileError) throw e;
      if (/too many bytes/.test((e as Error).message)) {
        throw new ImportFileError(
          `Refused as a possible zip bomb: ${entry.fileName} expands to more than the size it declares.`,
        );
      }
      throw new ImportFileError(`The zip archive is damaged (${(e as Error).message}).`);
    }
  }
  return { rows };
}

// ---------------------------------------------------------------------------------------------
// CSV

async function readHeadBytes(filePath: string, bytes: number): Promise<Buffer> {
  const fd = await fs.promises.open(filePath, "r");
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fd.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

/** The text encoding of a CSV file, from its first 64 KB (encoding.server.ts). */
export async function csvEncoding(filePath: string): Promise<DetectedEncoding> {
  return detectEncoding(await readHeadBytes(filePath, 64 * 1024));
}

/** The CSV's delimiter, from its first line read in its encoding (a byte order mark is ignored). */
export async function csvDelimiter(
  filePath: string,
  encoding: ImportEncoding = "utf-8",
): Promise<string> {
  const head = decodeText(await readHeadBytes(filePath, 64 * 1024), encoding).replace(
    /^\uFEFF/,
    "",
  );
  const firstLine = head.split(/\r?\n/, 1)[0] ?? "";
  return detectDelimiter(firstLine);
}

/** Counts the lines of a text file (a fast byte scan; quoted line breaks count too). */
export async function countLines(
  filePath: string,
  onProgress?: () => Promise<void>,
  encoding: ImportEncoding = "utf-8",
): Promise<number> {
  if (encoding === "utf-16le" || encoding === "utf-16be") {
    return countUtf16Lines(filePath, encoding, onProgress);
  }
  let lines = 0;
  let last = 0x0a;
  let lastProgress = Date.now();
  for await (const chunk of fs.createReadStream(filePath, {
    highWaterMark: 1024 * 1024,
  }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1]!;
    if (onProgress && Date.now() - lastProgress > 5_000) {
      lastProgress = Date.now();
      await onProgress();
    }
  }
  return last === 0x0a ? lines : lines + 1;
}

/** UTF-16 has two bytes per line break: count the decoded text's. */
async function countUtf16Lines(
  filePath: string,
  encoding: ImportEncoding,
  onProgress?: () => Promise<void>,
): Promise<number> {
  let lines = 0;
  let last = "\n";
  let lastProgress = Date.now();
  const text = fs
    .createReadStream(filePath, { highWaterMark: 1024 * 1024 })
    .pipe(decodeStream(encoding));
  for await (const chunk of text as AsyncIterable<string>) {
    for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1]!;
    if (onProgress && Date.now() - lastProgress > 5_000) {
      lastProgress = Date.now();
      await onProgress();
    }
  }
  return last === "\n" ? lines : lines + 1;
}

const isBlank = (cells: string[]) => cells.every((c) => c.trim() === "");

/**
 * Objects from an object-mode stream in arrays of up to `size`: one await per array instead of
 * one per object (a million rows means a million promises otherwise).
 */
async function* objectBatches<T>(stream: Readable, size: number): AsyncGenerator<T[]> {
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  stream.on("readable", notify);
  stream.on("end", () => {
    ended = true;
    notify();
  });
  stream.on("error", (e: Error) => {
    failure = e;
    notify();
  });
  for (;;) {
    const out: T[] = [];
    let item: T | null;
    while (out.length < size && (item = stream.read() as T | null) !== null) out.push(item);
    if (out.length > 0) {
      yield out;
      // Reading an array may parse more of the file (a transform parses what is buffered when it
      // is read): requests go first between two arrays (decisions/0113).
      await nextTurn();
      continue;
    }
    if (failure) throw failure;
    if (ended) return;
    await new Promise<void>((r) => (wake = r));
  }
}

async function* readCsv(
  filePath: string,
  delimiter: string,
  encoding: ImportEncoding,
): AsyncGenerator<SheetRow[]> {
  // 64 KiB (about 2,500 short lines) at a time: the parser works through a whole chunk in one
  // go on the thread that answers requests; 256 KiB held it for a median 26 ms (decisions/0113).
  const input = fs.createReadStream(filePath, { highWaterMark: 64 * 1024 });
  // UTF-8 goes to csv-parse as bytes (it drops a BOM itself); other encodings through iconv-lite.
  const decoded = encoding === "utf-8" ? null : input.pipe(decodeStream(encoding));
  if (decoded) input.on("error", (e) => decoded.emit("error", e));
  const parser = (decoded ?? input).pipe(
    parseCsv({
      delimiter,
      bom: true,
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: 1024 * 1024,
    }),
  );
  input.on("error", (e) => parser.destroy(e));
  decoded?.on("error", (e: Error) => parser.destroy(e));
  try {
    for await (const records of objectBatches<{ record: string[]; info: { lines: number } }>(
      parser,
      1000,
    )) {
      const rows: SheetRow[] = [];
      for (const { record, info } of records) {
        if (isBlank(record)) continue;
        // info.lines is where the record ends; a quoted line break moves its start up.
        let breaks = 0;
        for (const c of record)
          for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) breaks++;
        rows.push({ line: info.lines - breaks, cells: record });
      }
      if (rows.length) yield rows;
    }
  } catch (e) {
    if (e instanceof ImportFileError) throw e;
    const err = e as Error & { lines?: number };
    throw new ImportFileError(
      `The CSV file could not be read${err.lines ? ` at line ${err.lines}` : ""}: ${err.message}`,
    );
  } finally {
    input.destroy();
    parser.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// XLSX (exceljs streaming reader)

type CellValue = ExcelJS.CellValue;

function cellText(v: CellValue): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") {
    if ("richText" in v && Array.isArray(v.richText)) return v.richText.map((r) => r.text).join("");
    if ("text" in v && typeof v.text === "string") return v.text;
    if ("text" in v && v.text && typeof v.text === "object" && "richText" in v.text) {
      return (v.text as { richText: { text: string }[] }).richText.map((r) => r.text).join("");
    }
    if ("result" in v) return cellText((v as { result?: CellValue }).result ?? null);
    if ("error" in v) return "";
  }
  return String(v);
}

type SheetEvents = AsyncIterable<{ eventType: string; value: unknown }[]>;

async function* readXlsx(filePath: string): AsyncGenerator<SheetRow[]> {
  // exceljs's unzip trusts the archive: count what it would really expand first (issue 11.7).
  await boundXlsxExpansion(filePath);
  const input = fs.createReadStream(filePath);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    sharedStrings: "cache",
    hyperlinks: "ignore",
    styles: "ignore",
    worksheets: "emit",
    entries: "ignore",
  });
  try {
    for await (const sheet of reader) {
      // The sheet's parse() hands over its rows in the batches the XML parser produced.
      const events = (sheet as unknown as { parse(): SheetEvents }).parse();
      for await (const batch of events) {
        const rows: SheetRow[] = [];
        for (const { eventType, value } of batch) {
          if (eventType !== "row") continue;
          const row = value as ExcelJS.Row;
          const values = row.values as CellValue[];
          const cells: string[] = [];
          for (let i = 1; i < values.length; i++) cells.push(cellText(values[i] ?? null));
          if (!isBlank(cells)) rows.push({ line: row.number, cells });
        }
        if (rows.length) yield rows;
      }
      break; // the first worksheet only
    }
  } catch (e) {
    if (e instanceof ImportFileError) throw e;
    throw new ImportFileError(`The XLSX file could not be read: ${(e as Error).message}`);
  } finally {
    input.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// ODS (yauzl + saxes over content.xml)

/** Caps a repeat count: spreadsheets pad rows and columns with huge repeated empty cells. */
const MAX_REPEAT = 10_000;

async function* readOds(filePath: string): AsyncGenerator<SheetRow[]> {
  const zip = await openZip(filePath);
  let stream: Readable | null = null;
  try {
    for await (const entry of zipEntries(zip)) {
      if (entry.fileName !== "content.xml") continue;
      stream = await openEntry(zip, entry);
      yield* parseOdsContent(stream);
      return;
    }
    throw new ImportFileError("The ODS file has no content.xml.");
  } finally {
    stream?.destroy();
    zip.close();
  }
}

async function* parseOdsContent(stream: Readable): AsyncGenerator<SheetRow[]> {
  const parser = new SaxesParser();
  const out: SheetRow[] = [];
  let tableDepth = 0; // inside the first table:table
  let tablesSeen = 0;
  let rowNumber = 0;
  let rowRepeat = 1;
  let cells: string[] | null = null;
  let pendingEmpty = 0;
  let cell: { text: string; value: string | null; repeat: number; paragraphs: number } | null =
    null;
  let inText = 0; // depth inside text:p / text:h
  let failed: Error | null = null;

  parser.on("error", (e) => {
    failed = e;
  });
  parser.on("opentag", (tag) => {
    const name = tag.name;
    if (name === "table:table") {
      tablesSeen++;
      if (tablesSeen === 1) tableDepth = 1;
      return;
    }
    if (tableDepth === 0) return;
    const attr = (n: string) => {
      const a = (tag.attributes as Record<string, string | { value: string } | undefined>)[n];
      return typeof a === "string" ? a : a?.value;
    };
    if (name === "table:table-row") {
      rowRepeat = Math.max(1, Number(attr("table:number-rows-repeated") ?? 1) || 1);
      cells = [];
      pendingEmpty = 0;
    } else if ((name === "table:table-cell" || name === "table:covered-table-cell") && cells) {
      const value =
        attr("office:value") ?? attr("office:date-value") ?? attr("office:boolean-value") ?? null;
      cell = {
        text: "",
        value: value ?? null,
        repeat: Math.min(
          MAX_REPEAT,
          Math.max(1, Number(attr("table:number-columns-repeated") ?? 1) || 1),
        ),
        paragraphs: 0,
      };
      if (tag.isSelfClosing) closeCell();
    } else if (cell && (name === "text:p" || name === "text:h")) {
      if (cell.paragraphs > 0) cell.text += "\n";
      cell.paragraphs++;
      inText++;
    } else if (cell && inText > 0) {
      if (name === "text:s")
        cell.text += " ".repeat(Math.min(1000, Number(attr("text:c") ?? 1) || 1));
      else if (name === "text:tab") cell.text += "\t";
      else if (name === "text:line-break") cell.text += "\n";
    }
  });
  const closeCell = () => {
    if (!cell || !cells) return;
    const text = cell.text !== "" ? cell.text : (cell.value ?? "");
    if (text.trim() === "") {
      pendingEmpty += cell.repeat;
    } else {
      for (let i = 0; i < pendingEmpty; i++) cells.push("");
      pendingEmpty = 0;
      for (let i = 0; i < cell.repeat; i++) cells.push(text);
    }
    cell = null;
  };
  parser.on("text", (t) => {
    if (cell && inText > 0) cell.text += t;
  });
  parser.on("closetag", (tag) => {
    const name = tag.name;
    if (name === "table:table") {
      if (tableDepth) tableDepth = 0;
      return;
    }
    if (tableDepth === 0) return;
    if (name === "text:p" || name === "text:h") inText = Math.max(0, inText - 1);
    else if (name === "table:table-cell" || name === "table:covered-table-cell") closeCell();
    else if (name === "table:table-row") {
      const row = cells ?? [];
      if (!isBlank(row)) {
        for (let i = 0; i < Math.min(rowRepeat, MAX_REPEAT); i++) {
          out.push({ line: rowNumber + i + 1, cells: row });
        }
      }
      rowNumber += rowRepeat;
      cells = null;
    }
  });

  const decoder = new StringDecoder("utf8"); // a character may straddle two chunks
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parser.write(decoder.write(chunk));
    if (failed)
      throw new ImportFileError(`The ODS file could not be read: ${(failed as Error).message}`);
    if (out.length) yield out.splice(0, out.length);
  }
  parser.write(decoder.end());
  parser.close();
  if (failed)
    throw new ImportFileError(`The ODS file could not be read: ${(failed as Error).message}`);
  if (out.length) yield out.splice(0, out.length);
}

// ---------------------------------------------------------------------------------------------

export type ReadOptions = {
  /** CSV: the field delimiter. */
  delimiter?: string;
  /** CSV: the text encoding (UTF-8 when absent). */
  encoding?: ImportEncoding;
  /** XLS: the most rows to parse (the whole sheet when absent: at most 65,536). */
  maxRows?: number;
};

/** Every non-empty row of the file's first sheet, in order, in batches. */
export function readRows(
  filePath: string,
  format: ImportFormat,
  options: ReadOptions = {},
): AsyncGenerator<SheetRow[]> {
  if (format === "csv") {
    return readCsv(filePath, options.delimiter ?? ",", options.encoding ?? "utf-8");
  }
  if (format === "xlsx") return readXlsx(filePath);
  if (format === "xls") return readXls(filePath, { maxRows: options.maxRows ?? 65_536 });
  return readOds(filePath);
}

/** The first `count` non-empty rows (for column detection and the preview). */
export async function firstRows(
  filePath: string,
  format: ImportFormat,
  options: ReadOptions,
  count = 50,
): Promise<SheetRow[]> {
  const rows: SheetRow[] = [];
  // An XLS sheet is parsed whole: ask for a few more rows than needed (blank rows are skipped).
  const it = readRows(filePath, format, { ...options, maxRows: options.maxRows ?? count * 4 });
  try {
    for await (const batch of it) {
      rows.push(...batch.slice(0, count - rows.length));
      if (rows.length >= count) break;
    }
  } finally {
    await it.return(undefined);
  }
  return rows;
}
