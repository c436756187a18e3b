import fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { SaxesParser } from "saxes";
import { detectColumns } from "~/imports/detect";
import {
  csvDelimiter,
  csvEncoding,
  firstRows,
  ImportFileError,
  readRows,
} from "~/imports/read.server";
import type { ImportEncoding } from "~/imports/schema";
import type { SourceFormat, SourceMapping } from "~/sources/schema";

/**
 * What a fetched data source holds, read from its file: its structure for the preview (which
 * lists of records it has, their fields and a sample) and its records, streamed.
 *
 * - CSV: the imports' own streaming reader (csv-parse), encoding detection (a list in
 *   Windows-1250 or UTF-16 reads right) and delimiter detection, on every run.
 * - XML: saxes, a streaming parser that reads no DTD and resolves no external entity (no XXE, no
 *   entity expansion bomb): an undefined entity is an error.
 * - JSON: parsed whole (JSON.parse): the file is capped by DATA_SOURCE_MAX_MB before it is read,
 *   and no streaming JSON parser is a dependency (decisions/0080).
 */

/** A record: field name → text. */
export type SourceRecord = Record<string, string>;

export type RecordList = {
  /** JSON path / XML element name ("" for a CSV file or a JSON document that is the list). */
  records: string;
  count: number;
  fields: string[];
  sample: SourceRecord[];
};

export type SourcePreview = {
  format: SourceFormat;
  lists: RecordList[];
  /** CSV only. */
  delimiter?: string;
  header?: boolean;
  encoding?: ImportEncoding;
  /** A mapping guessed from the field names and values (the importer's detectColumns). */
  suggested: SourceMapping | null;
};

export const VALUE_FIELD = "(value)";
const SAMPLE = 5;
const MAX_LISTS = 20;
const MAX_FIELDS = 200;

export class SourceFormatError extends ImportFileError {
  constructor(message: string) {
    super(message);
    this.name = "SourceFormatError";
  }
}

// ---------------------------------------------------------------------------------------------
// CSV

function csvFields(header: boolean, firstRow: string[], width: number): string[] {
  return Array.from({ length: width }, (_, i) =>
    header && firstRow[i]?.trim() ? firstRow[i]!.trim() : `column ${i + 1}`,
  );
}

async function previewCsv(filePath: string): Promise<SourcePreview> {
  const { encoding } = await csvEncoding(filePath);
  const delimiter = await csvDelimiter(filePath, encoding);
  const rows = await firstRows(filePath, "csv", { delimiter, encoding }, 50);
  if (rows.length === 0) throw new SourceFormatError("The file is empty: it has no rows.");
  const cells = rows.map((r) => r.cells);
  const detected = detectColumns(cells, { channelFromFile: false });
  const header = detected.ok ? detected.mapping.header : false;
  const width = Math.max(...cells.map((r) => r.length));
  const fields = csvFields(header, cells[0]!, width);
  const body = header ? cells.slice(1) : cells;
  const sample = body.slice(0, SAMPLE).map((r) => recordOf(fields, r));
  let count = 0;
  for await (const batch of readRows(filePath, "csv", { delimiter, encoding })) {
    count += batch.length;
  }
  return {
    format: "csv",
    delimiter,
    encoding,
    header,
    lists: [{ records: "", count: header ? count - 1 : count, fields, sample }],
    suggested: suggest("", fields, body.slice(0, 50), { delimiter, header }),
  };
}

function recordOf(fields: string[], cells: string[]): SourceRecord {
  const r: SourceRecord = {};
  fields.forEach((f, i) => (r[f] = cells[i] ?? ""));
  return r;
}

async function* csvRecords(
  filePath: string,
  mapping: SourceMapping,
): AsyncGenerator<SourceRecord[]> {
  let fields: string[] | null = null;
  // The encoding is detected on every run (the list's producer may change it); the delimiter and
  // the header row are the mapping's.
  const { encoding } = await csvEncoding(filePath);
  const delimiter = mapping.delimiter ?? (await csvDelimiter(filePath, encoding));
  for await (const batch of readRows(filePath, "csv", { delimiter, encoding })) {
    const out: SourceRecord[] = [];
    for (const row of batch) {
      if (!fields) {
        const width = Math.max(row.cells.length, 1);
        fields = csvFields(Boolean(mapping.header), row.cells, Math.max(width, 64));
        if (mapping.header) continue;
      }
      out.push(recordOf(fields, row.cells));
    }
    if (out.length) yield out;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON

async function readJson(filePath: string): Promise<unknown> {
  const text = (await fs.promises.readFile(filePath, "utf8")).replace(/^\uFEFF/, "");
  if (!text.trim()) throw new SourceFormatError("The answer is empty.");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SourceFormatError(`The answer is not valid JSON (${(e as Error).message}).`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function scalar(v: unknown): string | null {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** An item of a JSON list as a record: scalar values by key, nested objects as `a.b` (2 levels). */
function jsonRecord(item: unknown): SourceRecord {
  const s = scalar(item);
  if (s !== null) return { [VALUE_FIELD]: s };
  const out: SourceRecord = {};
  if (!isObject(item)) return out;
  for (const [k, v] of Object.entries(item)) {
    const sv = scalar(v);
    if (sv !== null) out[k] = sv;
    else if (isObject(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        const s2 = scalar(v2);
        if (s2 !== null) out[`${k}.${k2}`] = s2;
      }
    }
  }
  return out;
}

/** Every list in the document (its path, dotted), up to 4 levels deep. */
function jsonLists(doc: unknown): { path: string; items: unknown[] }[] {
  const found: { path: string; items: unknown[] }[] = [];
  const walk = (v: unknown, path: string, depth: number) => {
    if (Array.isArray(v)) {
      found.push({ path, items: v });
      return;
    }
    if (!isObject(v) || depth >= 4) return;
    for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k, depth + 1);
  };
  walk(doc, "", 0);
  return found;
}

function jsonAt(doc: unknown, path: string): unknown {
  if (!path) return doc;
  let v: unknown = doc;
  for (const k of path.split(".")) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

function fieldsOf(records: SourceRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) if (seen.size < MAX_FIELDS) seen.add(k);
  return [...seen];
}

async function previewJson(filePath: string): Promise<SourcePreview> {
  const doc = await readJson(filePath);
  const lists = jsonLists(doc)
    .map(({ path, items }) => {
      const head = items.slice(0, 100).map(jsonRecord);
      return { records: path, count: items.length, fields: fieldsOf(head), head };
    })
    .filter((l) => l.fields.length > 0)
    .sort((a, b) => b.count - a.count)
    .slice(0, MAX_LISTS);
  if (lists.length === 0) {
    throw new SourceFormatError("The JSON document holds no list of records (an array).");
  }
  const best = lists[0]!;
  return {
    format: "json",
    lists: lists.map((l) => ({
      records: l.records,
      count: l.count,
      fields: l.fields,
      sample: l.head.slice(0, SAMPLE),
    })),
    suggested: suggest(
      best.records,
      best.fields,
      best.head.slice(0, 50).map((r) => best.fields.map((f) => r[f] ?? "")),
    ),
  };
}

async function* jsonRecords(
  filePath: string,
  mapping: SourceMapping,
): AsyncGenerator<SourceRecord[]> {
  const doc = await readJson(filePath);
  const list = jsonAt(doc, mapping.records);
  if (!Array.isArray(list)) {
    throw new SourceFormatError(
      `The JSON document has no list at "${mapping.records || "(the document itself)"}" any more: choose the fields again from a new preview.`,
    );
  }
  for (let i = 0; i < list.length; i += 1000) yield list.slice(i, i + 1000).map(jsonRecord);
}

// ---------------------------------------------------------------------------------------------
// XML

const localName = (name: string) => name.slice(name.indexOf(":") + 1);

/**
 * Streams the XML file; `onOpen`/`onClose` see each element with its path of local names. The
 * parser keeps no tree: memory is bounded by the depth of the document.
 */
async function* streamXml(
  filePath: string,
  handlers: (parser: SaxesParser, out: SourceRecord[]) => void,
): AsyncGenerator<SourceRecord[]> {
  const parser = new SaxesParser({ xmlns: false });
  const out: SourceRecord[] = [];
  let failed: Error | null = null;
  parser.on("error", (e) => {
    failed ??= e;
  });
  handlers(parser, out);
  const decoder = new StringDecoder("utf8");
  const fail = () =>
    new SourceFormatError(`The answer is not valid XML (${(failed as Error).message}).`);
  for await (const chunk of fs.createReadStream(filePath, {
    highWaterMark: 256 * 1024,
  }) as AsyncIterable<Buffer>) {
    parser.write(decoder.write(chunk));
    if (failed) throw fail();
    if (out.length) yield out.splice(0, out.length);
  }
  parser.write(decoder.end());
  parser.close();
  if (failed) throw fail();
  if (out.length) yield out.splice(0, out.length);
}

/** Records = elements named `element`: attributes as `@name`, descendants' text as `a` / `a.b`. */
function xmlRecords(filePath: string, element: string): AsyncGenerator<SourceRecord[]> {
  return streamXml(filePath, (parser, out) => {
    let depth = 0;
    let recordDepth = -1;
    let record: SourceRecord | null = null;
    const path: string[] = [];
    let text = "";
    parser.on("opentag", (tag) => {
      depth++;
      const name = localName(tag.name);
      if (record === null && name === element) {
        recordDepth = depth;
        record = {};
        for (const [k, v] of Object.entries(tag.attributes)) record[`@${localName(k)}`] = String(v);
        return;
      }
      if (record) {
        path.push(name);
        text = "";
        for (const [k, v] of Object.entries(tag.attributes))
          record[`${path.join(".")}.@${localName(k)}`] = String(v);
      }
    });
    parser.on("text", (t) => {
      if (record && path.length) text += t;
    });
    parser.on("cdata", (t) => {
      if (record && path.length) text += t;
    });
    parser.on("closetag", () => {
      if (record && depth === recordDepth) {
        out.push(record);
        record = null;
        recordDepth = -1;
      } else if (record && path.length) {
        const key = path.join(".");
        if (text.trim() && record[key] === undefined) record[key] = text.trim();
        path.pop();
        text = "";
      }
      depth--;
    });
  });
}

async function previewXml(filePath: string): Promise<SourcePreview> {
  // One pass: how often each element occurs and whether it has child elements or attributes.
  const counts = new Map<string, { count: number; structured: boolean; depth: number }>();
  const stack: { name: string; children: boolean }[] = [];
  for await (const _ of streamXml(filePath, (parser) => {
    parser.on("opentag", (tag) => {
      const name = localName(tag.name);
      if (stack.length) stack[stack.length - 1]!.children = true;
      stack.push({ name, children: Object.keys(tag.attributes).length > 0 });
    });
    parser.on("closetag", () => {
      const el = stack.pop()!;
      const c = counts.get(el.name) ?? { count: 0, structured: false, depth: stack.length };
      c.count++;
      c.structured ||= el.children;
      counts.set(el.name, c);
    });
  }))
    void _;
  const candidates = [...counts.entries()]
    .filter(([, c]) => c.structured && c.depth > 0)
    .sort((a, b) => b[1].count - a[1].count || a[1].depth - b[1].depth)
    .slice(0, MAX_LISTS);
  if (candidates.length === 0) {
    throw new SourceFormatError("The XML document holds no repeated elements to read as records.");
  }
  const lists: (RecordList & { head: SourceRecord[] })[] = [];
  for (const [name, c] of candidates.slice(0, 5)) {
    const head: SourceRecord[] = [];
    const it = xmlRecords(filePath, name);
    for await (const batch of it) {
      head.push(...batch.slice(0, 50 - head.length));
      if (head.length >= 50) break;
    }
    await it.return(undefined);
    const fields = fieldsOf(head);
    if (fields.length)
      lists.push({ records: name, count: c.count, fields, sample: head.slice(0, SAMPLE), head });
  }
  if (lists.length === 0) {
    throw new SourceFormatError("The XML document holds no repeated elements to read as records.");
  }
  const best = lists[0]!;
  return {
    format: "xml",
    lists: lists.map(({ head: _h, ...l }) => l),
    suggested: suggest(
      best.records,
      best.fields,
      best.head.map((r) => best.fields.map((f) => r[f] ?? "")),
    ),
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * A mapping guessed with the importer's column detection: the field names as a header row, the
 * sample's values below.
 */
function suggest(
  records: string,
  fields: string[],
  values: string[][],
  csv: { delimiter?: string; header?: boolean } = {},
): SourceMapping | null {
  const detected = detectColumns([fields, ...values], { channelFromFile: false });
  if (!detected.ok) return null;
  const named = detectColumns([fields, ...values], { channelFromFile: true });
  const m = detected.mapping;
  return {
    records,
    ...csv,
    address: fields[m.addressColumn]!,
    channel:
      named.ok && named.mapping.channelColumn !== null
        ? fields[named.mapping.channelColumn]!
        : null,
    reason: m.reasonColumn !== null ? fields[m.reasonColumn]! : null,
  };
}

/** The structure of a fetched file, for the admin's preview. */
export function previewSource(filePath: string, format: SourceFormat): Promise<SourcePreview> {
  if (format === "csv") return previewCsv(filePath);
  if (format === "json") return previewJson(filePath);
  return previewXml(filePath);
}

/** The file's records, in batches, as the mapping reads them. */
export function readSourceRecords(
  filePath: string,
  format: SourceFormat,
  mapping: SourceMapping,
): AsyncGenerator<SourceRecord[]> {
  if (format === "csv") return csvRecords(filePath, mapping);
  if (format === "json") return jsonRecords(filePath, mapping);
  return xmlRecords(filePath, mapping.records);
}
