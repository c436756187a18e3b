/**
 * Issue 11.7: exceljs reads XLSX through its own unzip, which trusts the archive. A zip bomb that
 * declares small sizes passes the upload's check of declared sizes (checkZip) and then expanded
 * about 512 MB into memory (exceljs caches the shared strings) before anything failed: on upload
 * (column detection) and in the preview. Now what reading may expand is counted in real
 * inflated bytes first, and such a file is refused with memory flat.
 *
 * The fixture is generated here: a valid XLSX whose xl/sharedStrings.xml expands to 300 MB
 * (about 300 KB compressed) while its headers declare 1 KB.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDatabase } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { importLimits, prepareImportFile } from "~/imports/jobs.server";
import { checkZip, firstRows, ImportFileError } from "~/imports/read.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { writeXlsx } from "./import-files";

const EXPANDS_TO = 300 * 1024 * 1024;

type RawEntry = { name: string; body: Buffer; crc: number; realSize: number; declared: number };

function deflated(name: string, text: string): RawEntry {
  const raw = Buffer.from(text, "utf8");
  return {
    name,
    body: zlib.deflateRawSync(raw),
    crc: zlib.crc32(raw),
    realSize: raw.length,
    declared: raw.length,
  };
}

/** The shared strings part, compressed as a stream (never whole in this process's memory). */
async function bombEntry(): Promise<RawEntry> {
  const head = Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>',
  );
  const tail = Buffer.from("</t></si></sst>");
  const chunk = Buffer.alloc(1024 * 1024, "a");
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (d: Buffer) => out.push(d));
  const done = new Promise((resolve, reject) => deflate.on("end", resolve).on("error", reject));
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => (deflate.write(b) ? resolve() : deflate.once("drain", resolve)));
  let crc = zlib.crc32(head);
  let real = head.length;
  await write(head);
  for (let i = 0; i < EXPANDS_TO / chunk.length; i++) {
    await write(chunk);
    crc = zlib.crc32(chunk, crc);
    real += chunk.length;
  }
  await write(tail);
  crc = zlib.crc32(tail, crc);
  real += tail.length;
  deflate.end();
  await done;
  return {
    name: "xl/sharedStrings.xml",
    body: Buffer.concat(out),
    crc,
    realSize: real,
    declared: 1024, // the lie
  };
}

function zip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.body.length, 18);
    local.writeUInt32LE(e.declared, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(e.crc >>> 0, 16);
    central.writeUInt32LE(e.body.length, 20);
    central.writeUInt32LE(e.declared, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.body);
    centrals.push(central, name);
    offset += local.length + name.length + e.body.length;
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

const NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

async function bombXlsx(): Promise<Buffer> {
  return zip([
    deflated(
      "[Content_Types].xml",
      `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`,
    ),
    deflated(
      "_rels/.rels",
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    ),
    deflated(
      "xl/workbook.xml",
      `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${NS}" xmlns:r="${REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ),
    deflated(
      "xl/_rels/workbook.xml.rels",
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
    ),
    await bombEntry(),
    deflated(
      "xl/worksheets/sheet1.xml",
      `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${NS}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>a@example.com</t></is></c></row></sheetData></worksheet>`,
    ),
  ]);
}

let t: TestDatabase;
let dir: string;
let bombPath: string;

beforeAll(async () => {
  t = await createTestDatabase();
  setDatabase(t);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-xlsx-bomb-"));
  bombPath = path.join(dir, "bomb.xlsx");
  fs.writeFileSync(bombPath, await bombXlsx());
}, 120_000);
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("an XLSX zip bomb that lies about its sizes", () => {
  it("is small, and its declared sizes pass the upload's check (the lie)", async () => {
    expect(fs.statSync(bombPath).size).toBeLessThan(1024 * 1024);
    await expect(checkZip(bombPath, importLimits(getEnv()))).resolves.toBeUndefined();
  });

  it("is refused when read (upload's column detection, the preview), with memory flat", async () => {
    const before = process.memoryUsage().rss;
    const read = firstRows(bombPath, "xlsx", {}, 50);
    await expect(read).rejects.toBeInstanceOf(ImportFileError);
    await expect(firstRows(bombPath, "xlsx", {}, 50)).rejects.toThrow(
      /Refused as a possible zip bomb: xl\/sharedStrings\.xml expands to more than \d+ MB/,
    );
    // exceljs alone would have held the 300 MB string; counting keeps nothing.
    expect(process.memoryUsage().rss - before).toBeLessThan(150 * 1024 * 1024);
    await expect(
      prepareImportFile(bombPath, {
        fileName: "bomb.xlsx",
        limits: importLimits(getEnv()),
        channel: "email",
        lenient: true,
      }),
    ).rejects.toThrow(/zip bomb/);
  }, 120_000);

  it("an ordinary XLSX still reads", async () => {
    const ok = path.join(dir, "ok.xlsx");
    await writeXlsx(ok, [["email"], ["one@example.com"], ["two@example.com"]]);
    const rows = await firstRows(ok, "xlsx", {}, 50);
    expect(rows.map((r) => r.cells[0])).toEqual(["email", "one@example.com", "two@example.com"]);
  });
});
