/**
 * Files for the import tests, generated on the fly: CSV text, XLSX (exceljs), ODS and hostile zip
 * files (a tiny zip writer, so a test can make an entry lie about its size).
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import ExcelJS from "exceljs";

export type ZipEntry = {
  name: string;
  data: Buffer | string;
  /** Store without compression (ODS wants its mimetype entry stored). */
  store?: boolean;
  /** Declare this uncompressed size instead of the real one (a lying zip bomb). */
  declaredSize?: number;
};

/** A minimal zip writer (local headers, central directory, end record; no zip64). */
export function zipBuffer(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, "utf8");
    const body = e.store ? raw : zlib.deflateRawSync(raw, { level: 9 });
    const crc = zlib.crc32(raw);
    const name = Buffer.from(e.name, "utf8");
    const size = e.declaredSize ?? raw.length;
    const method = e.store ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(0, 10); // time/date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export type OdsCell =
  | string
  | number
  | null
  | { link: string; text: string }
  | { spaced: [string, string] }
  | { empty: number };

function odsCell(c: OdsCell): string {
  if (c === null) return "<table:table-cell/>";
  if (typeof c === "number") {
    return `<table:table-cell office:value-type="float" office:value="${c}"><text:p>${c}</text:p></table:table-cell>`;
  }
  if (typeof c === "string") {
    return `<table:table-cell office:value-type="string"><text:p>${esc(c)}</text:p></table:table-cell>`;
  }
  if ("link" in c) {
    return `<table:table-cell office:value-type="string"><text:p><text:a xlink:href="${esc(c.link)}">${esc(c.text)}</text:a></text:p></table:table-cell>`;
  }
  if ("spaced" in c) {
    return `<table:table-cell office:value-type="string"><text:p>${esc(c.spaced[0])}<text:s text:c="2"/>${esc(c.spaced[1])}</text:p></table:table-cell>`;
  }
  return `<table:table-cell table:number-columns-repeated="${c.empty}"/>`;
}

/** An ODS spreadsheet as LibreOffice writes it (mimetype stored first, content.xml, manifest). */
export function odsBuffer(rows: OdsCell[][], extra: ZipEntry[] = []): Buffer {
  const body = rows
    .map((r) => `<table:table-row>${r.map(odsCell).join("")}</table:table-row>`)
    .join("\n");
  const content = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Unsubscribes"><table:table-column table:number-columns-repeated="3"/>
${body}
<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
</table:table><table:table table:name="Other"><table:table-row><table:table-cell office:value-type="string"><text:p>other-sheet@example.com</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`;
  const manifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`;
  return zipBuffer([
    { name: "mimetype", data: "application/vnd.oasis.opendocument.spreadsheet", store: true },
    { name: "content.xml", data: content },
    { name: "META-INF/manifest.xml", data: manifest },
    ...extra,
  ]);
}

export async function writeXlsx(
  file: string,
  rows: (string | number | null | ExcelJS.CellValue)[][],
) {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("Unsubscribes");
  for (const r of rows) ws.addRow(r);
  const other = wb.addWorksheet("Other");
  other.addRow(["other-sheet@example.com"]);
  await wb.xlsx.writeFile(file);
}

export function writeFile(dir: string, name: string, data: Buffer | string): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}
