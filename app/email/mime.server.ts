import crypto from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Splitter } from "@zone-eu/mailsplit";
import { simpleParser, type AddressObject, type HeaderValue } from "mailparser";

/**
 * Reading inbound email (mailto unsubscribes and feedback-loop reports) with mailparser, and with
 * mailsplit (mailparser's own MIME splitter) where a report's parts are needed as bytes: mailparser
 * merges an embedded `message/rfc822` part into the body text and keeps only a few of its
 * headers, but the original message's `List-Unsubscribe` is what names the complainer when the
 * report redacts them.
 */

const PARSE_OPTIONS = {
  skipHtmlToText: true,
  skipTextLinks: true,
  skipImageLinks: true,
  skipTextToHtml: true,
  keepDeliveryStatus: true,
} as const;

export type ParsedEmail = {
  messageId: string | null;
  subject: string | null;
  from: string | null;
  /** To and Cc addresses, lower-cased. */
  recipients: string[];
  /** Every header, lower-case names, values as mailparser decodes them. */
  headers: Map<string, HeaderValue>;
  /** The header lines as they came (mailparser turns List-* headers into objects). */
  headerLines: readonly { key: string; line: string }[];
};

function addressesOf(v: AddressObject | AddressObject[] | undefined): string[] {
  if (!v) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  const walk = (entries: AddressObject["value"]) => {
    for (const e of entries) {
      if (e.address) out.push(e.address.toLowerCase());
      if (e.group) walk(e.group);
    }
  };
  for (const a of list) walk(a.value);
  return out;
}

/** Headers (and the addresses that matter) of a message or of a bare header block. */
export async function parseEmail(raw: Buffer | string): Promise<ParsedEmail> {
  const bytes = typeof raw === "string" ? Buffer.from(raw, "utf8") : raw;
  const m = await simpleParser(bytes, PARSE_OPTIONS);
  return {
    messageId: m.messageId?.trim() || null,
    subject: m.subject ?? null,
    from: addressesOf(m.from)[0] ?? null,
    recipients: [...addressesOf(m.to), ...addressesOf(m.cc)],
    headers: m.headers,
    headerLines: m.headerLines ?? [],
  };
}

/** A header block alone (text/rfc822-headers) parsed as a message without a body. */
export function parseHeaderBlock(text: string): Promise<ParsedEmail> {
  return parseEmail(`${text.replace(/\s+$/, "")}\r\n\r\n`);
}

/** Every value of a header as written (unfolded), e.g. all `List-Unsubscribe` lines. */
export function headerValues(email: ParsedEmail, name: string): string[] {
  const key = name.toLowerCase();
  return email.headerLines
    .filter((h) => h.key === key)
    .map((h) =>
      h.line
        .slice(h.line.indexOf(":") + 1)
        .replace(/\r?\n[ \t]+/g, " ")
        .trim(),
    );
}

export function sha256(raw: Buffer | string): string {
  return crypto.createHash("sha256").update(raw).digest("hex");
}

type Part = { contentType: string; body: Buffer };

const WANTED = new Set([
  "message/feedback-report",
  "message/rfc822",
  "text/rfc822-headers",
  "text/rfc822-header",
]);

/**
 * The leaf parts of a message whose type is one of `WANTED`, decoded (transfer encoding undone).
 * Embedded messages stay whole (mailsplit's ignoreEmbedded), to be parsed on their own.
 */
async function reportParts(raw: Buffer): Promise<Part[]> {
  const parts: Part[] = [];
  let current: { type: string; chunks: Buffer[]; decoder: NodeJS.ReadWriteStream } | null = null;
  const finish = async () => {
    if (!current) return;
    const c = current;
    current = null;
    const out: Buffer[] = [];
    c.decoder.on("data", (d: Buffer) => out.push(Buffer.from(d)));
    const done = new Promise<void>((resolve, reject) => {
      c.decoder.on("end", () => resolve());
      c.decoder.on("error", reject);
    });
    for (const chunk of c.chunks) c.decoder.write(chunk);
    c.decoder.end();
    await done;
    parts.push({ contentType: c.type, body: Buffer.concat(out) });
  };
  const splitter = new Splitter({ ignoreEmbedded: true });
  await pipeline(
    Readable.from([raw]),
    splitter,
    new Writable({
      objectMode: true,
      write(data: { type: string; value?: Buffer } & Record<string, unknown>, _enc, cb) {
        (async () => {
          if (data.type === "node") {
            await finish();
            const type = String(data.contentType || "").toLowerCase();
            if (!data.multipart && WANTED.has(type)) {
              const getDecoder = data.getDecoder as () => NodeJS.ReadWriteStream;
              current = { type, chunks: [], decoder: getDecoder.call(data) };
            }
          } else if (data.type === "body" && current && data.value) {
            current.chunks.push(data.value);
          }
        })().then(() => cb(), cb);
      },
      final(cb) {
        finish().then(() => cb(), cb);
      },
    }),
  );
  return parts;
}

export type FeedbackReport = {
  /** The report's own Message-ID (each report is one message; a redelivery repeats it). */
  messageId: string | null;
  /** Who sent the report (e.g. feedback@arf.mail.yahoo.com, staff@hotmail.com). */
  reporter: string | null;
  /** RFC 5965 Feedback-Type (abuse, fraud, virus, other, not-spam, opt-out …); null: none given. */
  feedbackType: string | null;
  userAgent: string | null;
  /** Original-Rcpt-To / Removal-Recipient, when the reporter did not redact them. */
  recipients: string[];
  /** Whether the report is an RFC 5965 multipart/report (false: a forwarded message, as old JMRP). */
  arf: boolean;
  /** The reported message's headers, when attached (List-Unsubscribe, To, Message-ID). */
  original: ParsedEmail | null;
};

/**
 * Reads a feedback-loop report: an RFC 5965 report (a human-readable part, a
 * `message/feedback-report` part of fields, and the original message or its headers), or the
 * older form that some providers still send (the original message attached to a note).
 */
export async function readFeedbackReport(raw: Buffer): Promise<FeedbackReport> {
  const [top, parts] = await Promise.all([parseEmail(raw), reportParts(raw)]);
  const fieldsPart = parts.find((p) => p.contentType === "message/feedback-report");
  const fields = fieldsPart ? await parseHeaderBlock(fieldsPart.body.toString("utf8")) : null;
  const field = (name: string) => (fields ? headerValues(fields, name) : []);
  const originalPart =
    parts.find((p) => p.contentType === "message/rfc822") ??
    parts.find((p) => p.contentType.startsWith("text/rfc822-header"));
  let original: ParsedEmail | null = null;
  if (originalPart) {
    original =
      originalPart.contentType === "message/rfc822"
        ? await parseEmail(originalPart.body)
        : await parseHeaderBlock(originalPart.body.toString("utf8"));
  }
  const recipients = [...field("original-rcpt-to"), ...field("removal-recipient")]
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().replace(/^<|>$/g, "").toLowerCase())
    .filter((v) => v.includes("@"));
  return {
    messageId: top.messageId,
    reporter: top.from,
    feedbackType: field("feedback-type")[0]?.trim().toLowerCase() || null,
    userAgent: field("user-agent")[0]?.trim() || null,
    recipients,
    arf: Boolean(fieldsPart),
    original,
  };
}
