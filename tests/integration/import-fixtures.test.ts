/**
 * Imports of files made by LibreOffice and Excel (tests/fixtures/imports/README.md says how each
 * was made): text encodings, Czech headers, numeric phone cells, ODS, legacy XLS, the preview
 * (draft → remap → confirm), phone numbers without `+` and the default country setting, and a
 * re-import that adds missing reasons. Runs on PGlite and on PostgreSQL.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AuditContext } from "~/admin/audit.server";
import { addressKey } from "~/consent/consent.server";
import { targetsFor } from "~/contacts/suppressions.server";
import { readQueryAsAddress } from "~/contacts/contacts.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv } from "~/env.server";
import { detectEncoding } from "~/imports/encoding.server";
import {
  cancelImport,
  confirmImport,
  getImportJob,
  importErrorsCsv,
  importLimits,
  importsDir,
  previewImport,
  remapImport,
  runPendingImports,
  uploadImport,
  type RunnerOptions,
} from "~/imports/jobs.server";
import { firstRows, ImportFileError } from "~/imports/read.server";
import type { ImportJob } from "~/imports/schema";
import {
  defaultPhoneRegion,
  getPhoneRegionSetting,
  savePhoneRegion,
} from "~/settings/phone-region.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

const FIXTURES = path.resolve(__dirname, "../fixtures/imports");
const by: AuditContext = { actor: { type: "system", label: "test" } };

let t: TestDatabase;
let db: Db;
let dataDir: string;
let runner: RunnerOptions;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-import-fixtures-"));
  runner = { env: { ...getEnv(), dataDir }, workerId: `fixtures-${process.pid}` };
  fs.mkdirSync(importsDir({ dataDir }), { recursive: true });
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await savePhoneRegion(db, null, by);
});

/** Uploads a fixture as the /admin/imports action does: a draft job, shown in the preview. */
async function uploadFixture(
  name: string,
  options: { channel: Channel | null; addressColumn?: string; reasonColumn?: string } = {
    channel: "email",
  },
): Promise<ImportJob> {
  const id = crypto.randomUUID();
  const storedFile = `${id}.upload`;
  const dir = importsDir({ dataDir });
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, storedFile);
  fs.copyFileSync(path.join(FIXTURES, name), target);
  return uploadImport(
    db,
    {
      id,
      file: { path: target, storedFile, name, size: fs.statSync(target).size },
      channel: options.channel,
      addressColumn: options.addressColumn,
      reasonColumn: options.reasonColumn,
      limits: importLimits({ ...getEnv(), dataDir }),
    },
    by,
  );
}

async function confirmAndRun(job: ImportJob): Promise<ImportJob> {
  expect(await confirmImport(db, job.id, by)).not.toBeNull();
  await runPendingImports(db, runner);
  return (await getImportJob(db, job.id))!;
}

async function stateOf(channel: Channel, address: string) {
  return db
    .selectFrom("channel_consent as c")
    .innerJoin("consent_ledger as l", "l.id", "c.last_ledger_id")
    .select(["c.status", "l.reason_code", "l.reason_text", "l.source"])
    .where("c.channel", "=", channel)
    .where("c.address_hash", "=", addressKey(address))
    .executeTakeFirst();
}

async function errorReport(jobId: string): Promise<string> {
  let text = "";
  for await (const chunk of importErrorsCsv(db, jobId)) text += chunk;
  return text;
}

const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));

describe("text encodings", () => {
  it("detects Windows-1250, ISO-8859-2, UTF-16 and UTF-8 with a BOM in the LibreOffice files", () => {
    expect(detectEncoding(fixture("cs-emails.libreoffice.windows-1250.csv"))).toMatchObject({
      encoding: "windows-1250",
      bom: false,
    });
    expect(detectEncoding(fixture("cs-phones.libreoffice.iso-8859-2.csv")).encoding).toBe(
      "iso-8859-2",
    );
    expect(detectEncoding(fixture("cs-phones.libreoffice.utf-16.csv"))).toMatchObject({
      encoding: "utf-16le",
      bom: true,
    });
    expect(detectEncoding(fixture("cs-emails.libreoffice.utf-8-bom.csv"))).toMatchObject({
      encoding: "utf-8",
      bom: true,
    });
    expect(detectEncoding(fixture("source-emails.utf-8.csv"))).toMatchObject({
      encoding: "utf-8",
      bom: false,
    });
    expect(detectEncoding(Buffer.from("email\r\na@example.com\r\n")).encoding).toBe("utf-8");
  });

  it("imports the Windows-1250 CSV with `;` and its Czech reasons intact", async () => {
    const job = await uploadFixture("cs-emails.libreoffice.windows-1250.csv");
    expect(job.status).toBe("draft");
    expect(job.options).toMatchObject({
      delimiter: ";",
      encoding: "windows-1250",
      header: true,
      addressColumn: 1,
      reasonColumn: 2,
      labels: { address: "E-mail", reason: "Důvod odhlášení" },
    });
    const preview = (await previewImport(db, job.id, { dataDir }))!;
    expect(preview.headerRow).toEqual(["Jméno", "E-mail", "Důvod odhlášení", "Datum"]);
    expect(preview.rows[0]!.cells).toEqual([
      "Jana Nováková",
      "jana.novakova@example.cz",
      "Příliš často",
      "12.03.2026",
    ]);
    expect(preview.counts).toMatchObject({ checked: 5, valid: 4, invalid: 1 });
    expect(preview.counts.byError).toEqual({ invalid_email: 1 });
    // Nothing is written before the operator confirms.
    expect(await stateOf("email", "jana.novakova@example.cz")).toBeUndefined();

    const done = await confirmAndRun(job);
    expect(done).toMatchObject({ status: "completed", imported: 4, invalid: 1 });
    expect(await stateOf("email", "jana.novakova@example.cz")).toMatchObject({
      status: "unsubscribed",
      reason_text: "Příliš často",
      source: "import",
    });
    expect(await stateOf("email", "zaneta.cermakova@example.cz")).toMatchObject({
      reason_code: "too_frequent",
      reason_text: null,
    });
    expect(await errorReport(job.id)).toContain("neplatny-email");
  });

  it("reads the same file as the operator chose when they override the encoding", async () => {
    const job = await uploadFixture("cs-emails.libreoffice.windows-1250.csv");
    const remapped = await remapImport(
      db,
      job.id,
      {
        addressColumn: 1,
        reasonColumn: 2,
        channelColumn: null,
        channel: "email",
        header: true,
        encoding: "windows-1252",
      },
      { dataDir },
    );
    expect(remapped!.options.encoding).toBe("windows-1252");
    expect(remapped!.options.detectedEncoding?.encoding).toBe("windows-1250");
    const preview = (await previewImport(db, job.id, { dataDir }))!;
    // Windows-1252 reads the Czech letters as other letters: the operator sees it and goes back.
    expect(preview.rows[0]!.cells[2]).toBe("Pøíliš èasto");
    await remapImport(
      db,
      job.id,
      {
        addressColumn: 1,
        reasonColumn: 2,
        channelColumn: null,
        channel: "email",
        header: true,
        encoding: "windows-1250",
      },
      { dataDir },
    );
    expect((await previewImport(db, job.id, { dataDir }))!.rows[0]!.cells[2]).toBe("Příliš často");
    expect(await cancelImport(db, job.id, { dataDir }, by)).toBe(true);
    expect(await getImportJob(db, job.id)).toBeUndefined();
  });

  it("imports the UTF-8 CSV with a BOM", async () => {
    const job = await uploadFixture("cs-emails.libreoffice.utf-8-bom.csv");
    expect(job.options).toMatchObject({
      encoding: "utf-8",
      detectedEncoding: { bom: true },
      labels: { address: "E-mail", reason: "Důvod odhlášení" },
    });
    const done = await confirmAndRun(job);
    expect(done).toMatchObject({ status: "completed", invalid: 1 });
    expect((await stateOf("email", "petr.svoboda@example.cz"))!.reason_text).toBe("Nezajímá mě to");
  });

  it("imports UTF-16 and ISO-8859-2 files", async () => {
    await savePhoneRegion(db, "CZ", by);
    for (const name of [
      "cs-phones.libreoffice.utf-16.csv",
      "cs-phones.libreoffice.iso-8859-2.csv",
    ]) {
      const job = await uploadFixture(name, { channel: "sms" });
      expect(job.options.labels).toEqual({ address: "Telefon", channel: null, reason: "Důvod" });
      const done = await confirmAndRun(job);
      expect(done.status).toBe("completed");
      expect(done.invalid).toBe(1);
    }
    expect((await stateOf("sms", "+420777111225"))!.status).toBe("unsubscribed");
  });
});

describe("spreadsheets made by LibreOffice and Excel", () => {
  it("reads numeric phone cells of an XLSX as full numbers and the Czech reason column", async () => {
    await savePhoneRegion(db, "CZ", by);
    const job = await uploadFixture("cs-phones.libreoffice.xlsx", { channel: "sms" });
    expect(job.format).toBe("xlsx");
    expect(job.options.labels).toEqual({ address: "Telefon", channel: null, reason: "Důvod" });
    const preview = (await previewImport(db, job.id, { dataDir }))!;
    expect(preview.rows.map((r) => r.cells[1])).toEqual([
      "420777111222",
      "420777111223",
      "+420 777 111 224",
      "777111225",
      "12",
    ]);
    expect(preview.rows.map((r) => (r.result.ok ? r.result.address : r.result.error))).toEqual([
      "+420777111222",
      "+420777111223",
      "+420777111224",
      "+420777111225",
      "invalid_phone",
    ]);
    const done = await confirmAndRun(job);
    expect(done).toMatchObject({ status: "completed", invalid: 1 });
    expect(await stateOf("sms", "+420777111222")).toMatchObject({
      status: "unsubscribed",
      reason_text: "Příliš často",
    });
  });

  it("recognizes the reason in the LibreOffice XLSX and the ODS file", async () => {
    const xlsx = await uploadFixture("cs-emails.libreoffice.xlsx");
    expect(xlsx.options.labels).toEqual({
      address: "E-mail",
      channel: null,
      reason: "Důvod odhlášení",
    });
    await cancelImport(db, xlsx.id, { dataDir }, by);
    await savePhoneRegion(db, "CZ", by);
    const ods = await uploadFixture("cs-phones.libreoffice.ods", { channel: "whatsapp" });
    expect(ods.format).toBe("ods");
    const done = await confirmAndRun(ods);
    expect(done).toMatchObject({ status: "completed", imported: 4, invalid: 1 });
    expect(await stateOf("whatsapp", "+420777111223")).toMatchObject({
      reason_text: "Nezajímá mě to",
    });
  });

  it("imports a legacy XLS made by LibreOffice", async () => {
    await savePhoneRegion(db, "CZ", by);
    const phones = await uploadFixture("cs-phones.libreoffice.xls", { channel: "sms" });
    expect(phones.format).toBe("xls");
    expect(phones.options.labels.reason).toBe("Důvod");
    const done = await confirmAndRun(phones);
    expect(done).toMatchObject({ status: "completed", total_rows: 5, invalid: 1 });
    expect(await stateOf("sms", "+420777111224")).toMatchObject({ reason_code: "too_frequent" });

    const emails = await uploadFixture("cs-emails.libreoffice.xls");
    const preview = (await previewImport(db, emails.id, { dataDir }))!;
    expect(preview.rows[0]!.cells.slice(0, 3)).toEqual([
      "Jana Nováková",
      "jana.novakova@example.cz",
      "Příliš často",
    ]);
    await cancelImport(db, emails.id, { dataDir }, by);
  });

  it("reads a legacy XLS made by Excel (non-Latin text and formula results)", async () => {
    const rows = await firstRows(
      path.join(FIXTURES, "excel.xlrd-formula_test_sjmachin.xls"),
      "xls",
      {},
      10,
    );
    expect(rows[0]).toEqual({ line: 1, cells: ["Description", "Data"] });
    expect(rows[1]!.cells).toEqual(["Non-latin1 text", "МОСКВА Москва"]);
    expect(rows.find((r) => r.cells[0] === "formula text")!.cells[1]).toBe("ABCDEF");
    expect(rows.find((r) => r.cells[0] === "formula boolean")!.cells[1]).toBe("TRUE");
    // It has no address column: the upload still shows a preview and asks for one.
    const job = await uploadFixture("excel.xlrd-formula_test_sjmachin.xls");
    expect(job.options.unconfirmedAddress).toBe(true);
    await expect(confirmImport(db, job.id, by)).rejects.toThrow(ImportFileError);
    await cancelImport(db, job.id, { dataDir }, by);
  });

  it("refuses a Word document and a damaged compound file with a message", async () => {
    const { CFB } = await import("@e965/xlsx");
    const word = CFB.utils.cfb_new();
    CFB.utils.cfb_add(word, "/WordDocument", Buffer.from("not a workbook"));
    const damaged = Buffer.alloc(4096);
    Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(damaged);
    for (const [bytes, message] of [
      [
        CFB.write(word, { type: "buffer" }) as Buffer,
        /an Office document but not an Excel workbook/,
      ],
      [damaged, /The XLS file could not be read/],
    ] as const) {
      const id = crypto.randomUUID();
      const target = path.join(importsDir({ dataDir }), `${id}.upload`);
      fs.writeFileSync(target, bytes);
      await expect(
        uploadImport(
          db,
          {
            id,
            file: {
              path: target,
              storedFile: `${id}.upload`,
              name: "notes.doc",
              size: bytes.length,
            },
            channel: "email",
            limits: importLimits({ ...getEnv(), dataDir }),
          },
          by,
        ),
      ).rejects.toThrow(message);
    }
  });
});

describe("phone numbers without +", () => {
  it("reads 420…, 00420… and Excel's scientific notation as international numbers", async () => {
    expect(targetsFor("420777111222", "sms")).toEqual([
      { channel: "sms", address: "+420777111222" },
    ]);
    expect(readQueryAsAddress("00420 777 111 222")).toEqual({
      kind: "phone",
      value: "+420777111222",
    });
    expect(targetsFor("4.20777111222E+11", "all").map((x) => x.address)).toEqual([
      "+420777111222",
      "+420777111222",
    ]);
  });

  it("asks for the country code of a national number until a default country is set", async () => {
    expect(defaultPhoneRegion()).toBe(getEnv().DEFAULT_PHONE_REGION);
    expect(() => targetsFor("777111225", "all")).toThrow(/Add the country code/);
    const job = await uploadFixture("cs-phones.libreoffice.utf-16.csv", { channel: "sms" });
    const preview = (await previewImport(db, job.id, { dataDir }))!;
    expect(preview.counts.byError).toMatchObject({ missing_country_code: 1 });
    const done = await confirmAndRun(job);
    expect(await errorReport(done.id)).toContain("777111225,missing_country_code");

    await savePhoneRegion(db, "CZ", by);
    expect(await getPhoneRegionSetting(db)).toMatchObject({ region: "CZ", effective: "CZ" });
    expect(targetsFor("777 111 225", "sms")[0]!.address).toBe("+420777111225");
    expect(readQueryAsAddress("777111225")).toEqual({ kind: "phone", value: "+420777111225" });
    const audit = await db
      .selectFrom("audit_log")
      .select(["action", "details"])
      .where("action", "=", "settings.phone_region")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(audit.details).toMatchObject({ to: "CZ" });
  });
});

describe("a re-import adds missing reasons", () => {
  it("adds the file's reason to addresses suppressed without one, and nothing else", async () => {
    const withoutReasons =
      "email\r\nreimport.a@example.cz\r\nreimport.b@example.cz\r\nreimport.c@example.cz\r\n";
    const id1 = crypto.randomUUID();
    const dir = importsDir({ dataDir });
    fs.writeFileSync(path.join(dir, `${id1}.upload`), withoutReasons);
    const first = await uploadImport(
      db,
      {
        id: id1,
        file: {
          path: path.join(dir, `${id1}.upload`),
          storedFile: `${id1}.upload`,
          name: "first.csv",
          size: withoutReasons.length,
        },
        channel: "email",
        limits: importLimits({ ...getEnv(), dataDir }),
      },
      by,
    );
    expect(await confirmAndRun(first)).toMatchObject({ imported: 3 });
    const ledgerBefore = await ledgerCount();

    const withReasons =
      "E-mail;Důvod\r\nreimport.a@example.cz;Příliš často\r\nreimport.b@example.cz;\r\nreimport.c@example.cz;too_frequent\r\n";
    const id2 = crypto.randomUUID();
    fs.writeFileSync(path.join(dir, `${id2}.upload`), withReasons);
    const second = await uploadImport(
      db,
      {
        id: id2,
        file: {
          path: path.join(dir, `${id2}.upload`),
          storedFile: `${id2}.upload`,
          name: "second.csv",
          size: Buffer.byteLength(withReasons),
        },
        channel: "email",
        limits: importLimits({ ...getEnv(), dataDir }),
      },
      by,
    );
    const done = await confirmAndRun(second);
    expect(done).toMatchObject({ imported: 0, already_suppressed: 3, reasons_added: 2 });
    expect(await ledgerCount()).toBe(ledgerBefore + 2);
    expect(await stateOf("email", "reimport.a@example.cz")).toMatchObject({
      status: "unsubscribed",
      reason_text: "Příliš často",
    });
    expect(await stateOf("email", "reimport.c@example.cz")).toMatchObject({
      reason_code: "too_frequent",
    });
    expect((await stateOf("email", "reimport.b@example.cz"))!.reason_text).toBeNull();

    // Importing the same file again changes nothing: the reasons are there now.
    const id3 = crypto.randomUUID();
    fs.writeFileSync(path.join(dir, `${id3}.upload`), withReasons);
    const third = await uploadImport(
      db,
      {
        id: id3,
        file: {
          path: path.join(dir, `${id3}.upload`),
          storedFile: `${id3}.upload`,
          name: "third.csv",
          size: Buffer.byteLength(withReasons),
        },
        channel: "email",
        limits: importLimits({ ...getEnv(), dataDir }),
      },
      by,
    );
    expect(await confirmAndRun(third)).toMatchObject({ already_suppressed: 3, reasons_added: 0 });
    expect(await ledgerCount()).toBe(ledgerBefore + 2);
  });
});

async function ledgerCount(): Promise<number> {
  const r = await db
    .selectFrom("consent_ledger")
    .select(sql<number>`count(*)::int`.as("n"))
    .executeTakeFirstOrThrow();
  return r.n;
}
