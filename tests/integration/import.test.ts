import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv } from "~/env.server";
import { detectColumns, detectDelimiter } from "~/imports/detect";
import {
  claimImportJob,
  createImportJob,
  getImportJob,
  importErrorsCsv,
  importLimits,
  importsDir,
  prepareImportFile,
  runImportJob,
  runPendingImports,
  type RunnerOptions,
} from "~/imports/jobs.server";
import { ImportFileError } from "~/imports/read.server";
import { withImportTables, type ImportJob } from "~/imports/schema";
import { receiveImportUpload } from "~/imports/upload.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { odsBuffer, writeFile, writeXlsx, zipBuffer } from "./import-files";

let t: TestDatabase;
let db: Db;
let dataDir: string;
let runner: RunnerOptions;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-import-"));
  runner = { env: { ...getEnv(), dataDir }, workerId: `test-${process.pid}` };
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const limits = () => importLimits({ ...getEnv(), dataDir });

/** Puts a file where an upload lands and creates its job, as the /admin/imports action does. */
async function upload(
  name: string,
  data: Buffer | string,
  options: {
    channel: Channel | null;
    addressColumn?: string;
    reasonColumn?: string;
    note?: string;
  },
): Promise<ImportJob> {
  const id = crypto.randomUUID();
  const storedFile = `${id}.upload`;
  const file = writeFile(importsDir({ dataDir }), storedFile, data);
  try {
    const prepared = await prepareImportFile(file, {
      fileName: name,
      limits: limits(),
      ...options,
    });
    return await createImportJob(db, {
      id,
      fileName: name,
      storedFile,
      fileSize: fs.statSync(file).size,
      prepared,
      channel: options.channel,
      note: options.note,
      createdBy: null,
    });
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
}

async function importAndRun(...args: Parameters<typeof upload>): Promise<ImportJob> {
  const job = await upload(...args);
  await runPendingImports(db, runner);
  return (await getImportJob(db, job.id))!;
}

async function errorReport(jobId: string): Promise<string> {
  let text = "";
  for await (const chunk of importErrorsCsv(db, jobId)) text += chunk;
  return text;
}

const counts = (job: ImportJob) => ({
  status: job.status,
  rows_read: job.rows_read,
  imported: job.imported,
  already_suppressed: job.already_suppressed,
  duplicates: job.duplicates,
  invalid: job.invalid,
});

async function ledgerCount(): Promise<number> {
  const r = await db
    .selectFrom("consent_ledger")
    .select(sql<number>`count(*)::int`.as("n"))
    .executeTakeFirstOrThrow();
  return r.n;
}
async function consentCount(): Promise<number> {
  const r = await db
    .selectFrom("channel_consent")
    .select(sql<number>`count(*)::int`.as("n"))
    .executeTakeFirstOrThrow();
  return r.n;
}
async function importLedger(jobId: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where(sql<string>`details ->> 'import_id'`, "=", jobId)
    .orderBy("id")
    .execute();
}
const blocked = async (channel: Channel, address: string) =>
  (await decideSend(db, { channel, address, category: "marketing" })).reason;

describe("importing a CSV file", () => {
  const csv =
    "\uFEFFE-Mail;Grund;Name\r\n" +
    "Alice@Example.com;too frequent;Alice\r\n" +
    "bob@example.com;Ich habe mich nie angemeldet;Bob\r\n" +
    "ALICE@example.COM;;Alice again\r\n" +
    "not-an-email;;X\r\n" +
    ";;empty address\r\n" +
    "\r\n" +
    '"carol@example.com";"other; with a semicolon";Carol\r\n' +
    "  dave@example.com  ;;Dave\r\n" +
    "eve@example;;Eve\r\n" +
    "pre@example.com;;Already there\r\n";

  it("imports a ;-delimited file with a BOM: exact counts, ledger rows with source import, and an exact error report", async () => {
    await applyConsentChange(db, {
      channel: "email",
      address: "pre@example.com",
      action: "unsubscribe",
      source: "link",
    });
    const before = await ledgerCount();
    const job = await importAndRun("unsubscribes.csv", csv, { channel: "email" });
    expect(job.options).toMatchObject({
      delimiter: ";",
      header: true,
      addressColumn: 0,
      reasonColumn: 1,
    });
    expect(counts(job)).toEqual({
      status: "completed",
      rows_read: 9,
      imported: 4,
      already_suppressed: 1,
      duplicates: 1,
      invalid: 3,
    });
    expect(job.phase).toBe("done");
    expect(job.error).toBeNull();
    expect(await ledgerCount()).toBe(before + 4);

    for (const a of [
      "alice@example.com",
      "BOB@example.com",
      "carol@example.com",
      "dave@example.com",
    ]) {
      expect(await blocked("email", a)).toBe("unsubscribed");
    }
    expect(await blocked("sms", "+48601999001")).toBeUndefined();

    const rows = await importLedger(job.id);
    expect(rows.map((r) => r.address).sort()).toEqual([
      "alice@example.com",
      "bob@example.com",
      "carol@example.com",
      "dave@example.com",
    ]);
    const alice = rows.find((r) => r.address === "alice@example.com")!;
    expect(alice).toMatchObject({
      action: "unsubscribe",
      source: "import",
      reason_code: "too_frequent",
      reason_text: null,
    });
    expect(alice.details).toEqual({ import_id: job.id, note: "import unsubscribe" });
    expect(rows.find((r) => r.address === "bob@example.com")).toMatchObject({
      reason_code: null,
      reason_text: "Ich habe mich nie angemeldet",
    });
    expect(rows.find((r) => r.address === "carol@example.com")!.reason_text).toBe(
      "other; with a semicolon",
    );
    // State points at the import's ledger rows.
    const state = await db
      .selectFrom("channel_consent")
      .select(["status", "last_ledger_id"])
      .where("channel", "=", "email")
      .where("address_hash", "=", addressKey("alice@example.com"))
      .executeTakeFirstOrThrow();
    expect(state).toEqual({ status: "unsubscribed", last_ledger_id: alice.id });

    expect(await errorReport(job.id)).toBe(
      "line,value,error\r\n5,not-an-email,invalid_email\r\n6,,empty\r\n10,eve@example,invalid_email\r\n",
    );
    // The uploaded file is gone once the job has ended.
    expect(fs.existsSync(path.join(importsDir({ dataDir }), job.stored_file))).toBe(false);
  });

  it("re-importing the same file changes nothing and says so", async () => {
    const ledger = await ledgerCount();
    const state = await consentCount();
    const job = await importAndRun("unsubscribes.csv", csv, {
      channel: "email",
      note: "second try",
    });
    expect(counts(job)).toEqual({
      status: "completed",
      rows_read: 9,
      imported: 0,
      already_suppressed: 5,
      duplicates: 1,
      invalid: 3,
    });
    expect(await ledgerCount()).toBe(ledger);
    expect(await consentCount()).toBe(state);
  });

  it("an import unsubscribes a subscribed or pending address, and the note goes to each ledger row", async () => {
    await applyConsentChange(db, {
      channel: "email",
      address: "pending@example.com",
      action: "signup_pending",
      source: "api",
    });
    const job = await importAndRun("pending.csv", "email\npending@example.com\n", {
      channel: "email",
      note: "moved from Mailchimp",
    });
    expect(counts(job)).toMatchObject({ imported: 1, already_suppressed: 0 });
    expect(await blocked("email", "pending@example.com")).toBe("unsubscribed");
    const [row] = await importLedger(job.id);
    expect(row!.details).toMatchObject({ note: "moved from Mailchimp" });
  });
});

describe("importing XLSX and ODS files", () => {
  it("reads an XLSX file's first sheet with a channel per row, phone numbers, hyperlinks and rich text", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-xlsx-"));
    const file = path.join(dir, "list.xlsx");
    await writeXlsx(file, [
      ["Channel", "Address", "Note", "Why"],
      ["SMS", "+48 601 234 567", "", "too_frequent"],
      ["whatsapp", "0048 601 234 567", "", ""],
      [
        "E-mail",
        { text: "Mixed.Case@Example.COM", hyperlink: "mailto:Mixed.Case@Example.COM" },
        "",
        "",
      ],
      ["email", "mixed.case@example.com", "", ""],
      ["fax", "someone@example.com", "", ""],
      ["sms", "12", "", ""],
      ["sms", "", "x", ""],
      [null, null, null, null],
      ["SMS", 48601234567, "", ""],
      ["email", { richText: [{ text: "rich" }, { text: "@example.com" }] }, "", ""],
    ]);
    const job = await importAndRun("list.xlsx", fs.readFileSync(file), {
      channel: null,
      reasonColumn: "why",
    });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(job.format).toBe("xlsx");
    expect(counts(job)).toEqual({
      status: "completed",
      rows_read: 9,
      imported: 4,
      already_suppressed: 0,
      // The numeric cell 48601234567 (a phone number typed without "+") is +48601234567 again.
      duplicates: 2,
      invalid: 3,
    });
    expect(await blocked("sms", "+48601234567")).toBe("unsubscribed");
    expect(await blocked("whatsapp", "+48601234567")).toBe("unsubscribed");
    expect(await blocked("email", "mixed.case@example.com")).toBe("unsubscribed");
    expect(await blocked("email", "rich@example.com")).toBe("unsubscribed");
    expect(await blocked("email", "other-sheet@example.com")).toBeUndefined();
    const sms = (await importLedger(job.id)).find((r) => r.channel === "sms")!;
    expect(sms).toMatchObject({ address: "+48601234567", reason_code: "too_frequent" });
    expect(await errorReport(job.id)).toBe(
      "line,value,error\r\n6,fax,invalid_channel\r\n7,12,invalid_phone\r\n8,,empty\r\n",
    );
  });

  it("reads an ODS file without a header: the address column found by content, repeated and spaced cells", async () => {
    const ods = odsBuffer([
      [{ empty: 2 }, "First@Example.com", "promo spam"],
      [null, null, { link: "mailto:second@example.com", text: "second@example.com" }],
      [{ empty: 2 }, { spaced: ["third", "@example.com"] }],
      [{ empty: 2 }, "FIRST@example.com"],
      [{ empty: 2 }, 12345],
      [{ empty: 2 }, "fourth@example.com"],
    ]);
    const job = await importAndRun("list.ods", ods, { channel: "email" });
    expect(job.format).toBe("ods");
    expect(job.options).toMatchObject({ header: false, addressColumn: 2 });
    expect(counts(job)).toEqual({
      status: "completed",
      rows_read: 6,
      imported: 3,
      already_suppressed: 0,
      duplicates: 1,
      invalid: 2,
    });
    for (const a of ["first@example.com", "second@example.com", "fourth@example.com"]) {
      expect(await blocked("email", a)).toBe("unsubscribed");
    }
    expect(await errorReport(job.id)).toBe(
      "line,value,error\r\n3,third  @example.com,invalid_email\r\n5,12345,invalid_email\r\n",
    );
    // Re-importing changes nothing.
    const ledger = await ledgerCount();
    const again = await importAndRun("list.ods", ods, { channel: "email" });
    expect(counts(again)).toMatchObject({
      imported: 0,
      already_suppressed: 3,
      duplicates: 1,
      invalid: 2,
    });
    expect(await ledgerCount()).toBe(ledger);
  });
});

describe("files that are refused", () => {
  async function refused(
    name: string,
    data: Buffer | string,
    options: Parameters<typeof upload>[2] = { channel: "email" },
  ) {
    const ledger = await ledgerCount();
    const jobs = await withImportTables(db).selectFrom("import_jobs").select("id").execute();
    const error = await upload(name, data, options).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImportFileError);
    expect(await ledgerCount()).toBe(ledger);
    expect(
      await withImportTables(db).selectFrom("import_jobs").select("id").execute(),
    ).toHaveLength(jobs.length);
    expect(fs.readdirSync(importsDir({ dataDir }))).toEqual([]);
    return (error as Error).message;
  }

  it("a zip bomb (an XLSX that expands a thousand times) is refused before anything is decompressed", async () => {
    const bomb = zipBuffer([
      { name: "[Content_Types].xml", data: "<Types/>" },
      { name: "xl/workbook.xml", data: "<workbook/>" },
      { name: "xl/worksheets/sheet1.xml", data: Buffer.alloc(64 * 1024 * 1024, 0x20) },
    ]);
    expect(bomb.length).toBeLessThan(200 * 1024);
    expect(await refused("bomb.xlsx", bomb)).toMatch(/zip bomb.*sheet1\.xml expands \d+ times/);
  });

  it("a zip whose entry lies about its size fails its job while checking, before any row is written", async () => {
    const liar = odsBuffer(
      [["liar@example.com"]],
      [{ name: "Pictures/big.png", data: Buffer.alloc(40 * 1024 * 1024), declaredSize: 1000 }],
    );
    const ledger = await ledgerCount();
    const job = await importAndRun("liar.ods", liar, { channel: "email" });
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(
      /possible zip bomb: Pictures\/big\.png expands to more than the size it declares/,
    );
    expect(job.error).toMatch(/Nothing was imported/);
    expect(counts(job)).toMatchObject({ rows_read: 0, imported: 0 });
    expect(await ledgerCount()).toBe(ledger);
    expect(await blocked("email", "liar@example.com")).toBeUndefined();
  });

  it("an oversize upload is cut off while streaming, with a clear message and no file left", async () => {
    const dir = path.join(dataDir, "upload-test");
    const form = new FormData();
    form.set("channel", "email");
    form.set("file", new Blob([Buffer.alloc(50_000, 0x61)]), "huge.csv");
    const request = new Request("http://localhost/admin/imports", { method: "POST", body: form });
    const error = await receiveImportUpload(request, { dir, maxBytes: 10_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImportFileError);
    expect((error as Error).message).toMatch(/^The file is too large/);
    expect(fs.readdirSync(dir)).toEqual([]);
    // Under the limit the file lands on disk whole, with the other fields.
    const ok = await receiveImportUpload(
      new Request("http://localhost/admin/imports", { method: "POST", body: form }),
      { dir, maxBytes: 100_000 },
    );
    expect(ok.fields).toEqual({ channel: "email" });
    expect(ok.file).toMatchObject({ name: "huge.csv", size: 50_000 });
    fs.rmSync(ok.file!.path);
    // And prepareImportFile re-checks the size of what is on disk.
    const onDisk = writeFile(dir, "big.csv", `email\n${"a".repeat(2000)}@example.com\n`);
    await expect(
      prepareImportFile(onDisk, {
        fileName: "big.csv",
        limits: { ...limits(), maxFileBytes: 1000 },
        channel: "email",
      }),
    ).rejects.toThrow(/too large/);
    fs.rmSync(onDisk);
  });

  it("unknown formats and files without an address column are refused with a clear message", async () => {
    // A compound file (.xls) that is damaged: the XLS reader says so.
    expect(
      await refused("old.xls", Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])),
    ).toMatch(/XLS file could not be read/);
    expect(await refused("doc.pdf", Buffer.from("%PDF-1.4\n\0\0binary"))).toMatch(/Unknown format/);
    expect(await refused("other.zip", zipBuffer([{ name: "readme.txt", data: "hello" }]))).toMatch(
      /neither an XLSX nor an ODS/,
    );
    expect(await refused("people.csv", "name;city\nAlice;Paris\nBob;Rome\n")).toMatch(
      /No address column/,
    );
    expect(await refused("empty.csv", "")).toMatch(/empty/);
    expect(await refused("nochannel.csv", "email\na@example.com\n", { channel: null })).toMatch(
      /no "channel" column/,
    );
    expect(
      await refused("col.csv", "email\na@example.com\n", {
        channel: "email",
        addressColumn: "mail address",
      }),
    ).toMatch(/no column "mail address"/);
  });

  it("a file with more rows than IMPORT_MAX_ROWS fails while checking, with nothing written", async () => {
    const ledger = await ledgerCount();
    const body = `email\n${Array.from({ length: 8 }, (_, i) => `limit${i}@example.com`).join("\n")}\n`;
    const job = await upload("limit.csv", body, { channel: "email" });
    await runPendingImports(db, { ...runner, env: { ...runner.env, IMPORT_MAX_ROWS: 5 } });
    const done = (await getImportJob(db, job.id))!;
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/about 8 rows; at most 5 are allowed.*Nothing was imported/);
    expect(await ledgerCount()).toBe(ledger);
  });
});

describe("jobs survive an interrupted worker", () => {
  const bigCsv = (prefix: string, n: number) =>
    `email\n${Array.from({ length: n }, (_, i) => (i % 100 === 99 ? "broken" : `${prefix}${i}@example.com`)).join("\n")}\n`;

  it("a job whose worker vanished is taken over and resumes from its last committed batch", async () => {
    const job = await upload("resume.csv", bigCsv("resume", 3000), { channel: "email" });
    const first = (await claimImportJob(db, { ...runner, workerId: "worker-1" }))!;
    expect(first.id).toBe(job.id);
    let batches = 0;
    await runImportJob(db, first, {
      ...runner,
      workerId: "worker-1",
      batchSize: 500,
      async onBatch() {
        // After two batches, worker-1 "dies": its lease goes to nobody (as after a crash).
        if (++batches === 2) {
          await withImportTables(db)
            .updateTable("import_jobs")
            .set({ locked_by: "dead-worker" })
            .where("id", "=", job.id)
            .execute();
        }
      },
    });
    const mid = (await getImportJob(db, job.id))!;
    expect(mid).toMatchObject({ status: "running", rows_read: 1000, imported: 990, invalid: 10 });
    // What is committed is exactly what the job says: no silent partial batch.
    expect(await importLedger(job.id)).toHaveLength(990);

    // PGlite is single-process: a restarted server takes the job over at once.
    const second = (await claimImportJob(db, {
      ...runner,
      workerId: "worker-2",
      singleProcess: true,
    }))!;
    expect(second).toMatchObject({ id: job.id, attempts: 2, rows_read: 1000 });
    const done = await runImportJob(db, second, {
      ...runner,
      workerId: "worker-2",
      batchSize: 500,
    });
    expect(counts(done)).toEqual({
      status: "completed",
      rows_read: 3000,
      imported: 2970,
      already_suppressed: 0,
      duplicates: 0,
      invalid: 30,
    });
    expect(await importLedger(job.id)).toHaveLength(2970);
    const report = await errorReport(job.id);
    expect(report.trim().split("\r\n")).toHaveLength(31);
  });

  it("a job that keeps getting interrupted is marked failed with what was committed", async () => {
    const job = await upload("crashy.csv", bigCsv("crashy", 10), { channel: "email" });
    await withImportTables(db)
      .updateTable("import_jobs")
      .set({
        status: "running",
        attempts: 3,
        rows_read: 4,
        imported: 4,
        total_rows: 10,
        phase: "importing",
        locked_by: "dead-worker",
        locked_until: new Date(Date.now() - 1000),
      })
      .where("id", "=", job.id)
      .execute();
    await runPendingImports(db, runner);
    const done = (await getImportJob(db, job.id))!;
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/interrupted 3 times.*The first 4 rows were committed \(4 imported/);
    expect(fs.existsSync(path.join(importsDir({ dataDir }), job.stored_file))).toBe(false);
  });
});

describe("the bulk door", () => {
  it("commits in batches (one transaction each) and counts repeated addresses once across batches", async () => {
    const items = Array.from({ length: 12_000 }, (_, i) => ({
      channel: "email" as const,
      address: `bulk${i % 6_000}@example.com`,
    }));
    const r = await bulkUnsubscribe(db, items, { source: "import" });
    expect(r).toEqual({ imported: 6_000, alreadySuppressed: 0, duplicates: 6_000, invalid: [] });
    const again = await bulkUnsubscribe(db, items.slice(0, 10), { source: "api" });
    expect(again).toMatchObject({ imported: 0, alreadySuppressed: 10 });
  });
});

describe("column detection", () => {
  it("finds the address column by header (any language) or by content, and the delimiter", () => {
    expect(detectDelimiter('"a;b",c,d')).toBe(",");
    expect(detectDelimiter("a;b;c,d")).toBe(";");
    expect(detectDelimiter("a\tb")).toBe("\t");
    const r = detectColumns(
      [
        ["Nom", "Courriel", "Raison"],
        ["A", "a@example.com", "x"],
      ],
      { channelFromFile: false },
    );
    expect(r).toMatchObject({
      ok: true,
      mapping: { header: true, addressColumn: 1, reasonColumn: 2 },
    });
    const phone = detectColumns(
      [
        ["id", "Mobile number"],
        ["1", "+48 601 234 567"],
      ],
      { channelFromFile: false },
    );
    expect(phone).toMatchObject({
      ok: true,
      mapping: { addressColumn: 1, labels: { address: "Mobile number" } },
    });
    const content = detectColumns(
      [
        ["x", "y"],
        ["1", "+48601234567"],
        ["2", "+48601234568"],
      ],
      { channelFromFile: false },
    );
    expect(content).toMatchObject({ ok: true, mapping: { header: true, addressColumn: 1 } });
    const chosen = detectColumns(
      [
        ["a", "b"],
        ["1", "2"],
      ],
      { channelFromFile: false, addressColumn: "B" },
    );
    expect(chosen).toMatchObject({ ok: true, mapping: { addressColumn: 1 } });
  });
});
