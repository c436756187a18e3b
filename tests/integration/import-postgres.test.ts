/**
 * Import behaviour that needs a real PostgreSQL server shared by two processes: a worker process
 * killed with SIGKILL in the middle of an import, and the memory used by a 200,000-row import.
 * Runs in the integration-postgres project only.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import {
  claimImportJob,
  createImportJob,
  getImportJob,
  importLimits,
  importsDir,
  prepareImportFile,
  runImportJob,
  runPendingImports,
  type RunnerOptions,
} from "~/imports/jobs.server";
import { withImportTables, type ImportJob } from "~/imports/schema";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { waitFor } from "../setup/wait";

const onPostgres = process.env.HEED_TEST_DB === "postgres";

let t: TestDatabase;
let db: Db;
let dataDir: string;
let runner: RunnerOptions;

beforeAll(async () => {
  if (!onPostgres) return;
  t = await createTestDatabase();
  db = t.db;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-import-pg-"));
  runner = { env: { ...getEnv(), dataDir }, workerId: `test-${process.pid}` };
});
afterAll(async () => {
  await t?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function queueCsv(name: string, body: string): Promise<ImportJob> {
  const id = crypto.randomUUID();
  const storedFile = `${id}.upload`;
  fs.mkdirSync(importsDir({ dataDir }), { recursive: true });
  const file = path.join(importsDir({ dataDir }), storedFile);
  fs.writeFileSync(file, body);
  const prepared = await prepareImportFile(file, {
    fileName: name,
    limits: importLimits({ ...getEnv(), dataDir }),
    channel: "email",
  });
  return createImportJob(db, {
    id,
    fileName: name,
    storedFile,
    fileSize: fs.statSync(file).size,
    prepared,
    channel: "email",
    createdBy: null,
  });
}

async function committedState(jobId: string, prefix: string) {
  const ledger = await db
    .selectFrom("consent_ledger")
    .select(sql<number>`count(*)::int`.as("n"))
    .where(sql<string>`details ->> 'import_id'`, "=", jobId)
    .executeTakeFirstOrThrow();
  const state = await sql<{ n: number }>`
    select count(*)::int as n from channel_consent
    where channel = 'email' and status = 'unsubscribed' and address like ${`${prefix}%`}`.execute(
    db,
  );
  const errors = await withImportTables(db)
    .selectFrom("import_errors")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("job_id", "=", jobId)
    .executeTakeFirstOrThrow();
  return { ledger: ledger.n, state: state.rows[0]!.n, errors: errors.n };
}

describe.skipIf(!onPostgres)("imports on PostgreSQL", () => {
  it("a worker process killed with SIGKILL mid-import leaves exactly its committed batches, and the job resumes to the end", async () => {
    const rows = 20_000;
    const body = `email\n${Array.from({ length: rows }, (_, i) => (i % 100 === 99 ? `broken-${i}` : `killed${i}@example.com`)).join("\n")}\n`;
    const job = await queueCsv("kill.csv", body);

    const script = path.resolve(
      "tests/.tmp",
      `import-worker-${process.pid}-${crypto.randomBytes(3).toString("hex")}.ts`,
    );
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(
      script,
      `import readline from "node:readline";
import { openPostgres } from ${JSON.stringify(path.resolve("app/db/db.server.ts"))};
import { runPendingImports } from ${JSON.stringify(path.resolve("app/imports/jobs.server.ts"))};
import { getEnv } from ${JSON.stringify(path.resolve("app/env.server.ts"))};
const fromTest = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const handle = await openPostgres(process.env.DATABASE_URL!, 2);
await runPendingImports(handle.db, {
  env: getEnv(),
  workerId: "child-worker",
  leaseMs: 2000,
  batchSize: 1000,
  // After each committed batch: tell the test, and go on only when it says so.
  onBatch: async (job) => {
    process.stdout.write(\`committed \${job.rows_read}\\n\`);
    await fromTest.next();
  },
});
await handle.close();
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: {
        ...process.env,
        DATABASE_URL: t.url,
        HEED_DATA_DIR: dataDir,
        NODE_ENV: "test",
        LOG_LEVEL: "silent",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    try {
      // Let the worker commit batches until 3,000 rows are in, then kill it where it stands.
      const committed = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      for (;;) {
        const line = await Promise.race([committed.next(), exited.then(() => null)]);
        if (!line || line.done) throw new Error(`the worker stopped early: ${stderr}`);
        const rowsRead = Number(/^committed (\d+)$/.exec(line.value)?.[1]);
        if (rowsRead >= 3_000) break;
        child.stdin.write("go\n");
      }
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
    } finally {
      child.kill("SIGKILL");
      fs.rmSync(script, { force: true });
    }

    // What the dead worker left: a running job whose counters are exactly what is committed.
    const left = (await getImportJob(db, job.id))!;
    expect(left).toMatchObject({ status: "running", locked_by: "child-worker" });
    expect(left.rows_read % 1000).toBe(0);
    expect(left.rows_read).toBeLessThan(rows);
    expect(left.imported + left.invalid).toBe(left.rows_read);
    expect(await committedState(job.id, "killed")).toEqual({
      ledger: left.imported,
      state: left.imported,
      errors: left.invalid,
    });

    // A restarted server (another worker) takes the job over once the dead worker's lease expires.
    const claimed = await waitFor("the dead worker's lease to expire", () =>
      claimImportJob(db, { ...runner, workerId: "restarted" }),
    );
    expect(claimed).toMatchObject({ id: job.id, attempts: 2, rows_read: left.rows_read });
    const done = await runImportJob(db, claimed, { ...runner, workerId: "restarted" });
    expect(done).toMatchObject({
      status: "completed",
      rows_read: rows,
      imported: 19_800,
      already_suppressed: 0,
      duplicates: 0,
      invalid: 200,
    });
    expect(await committedState(job.id, "killed")).toEqual({
      ledger: 19_800,
      state: 19_800,
      errors: 200,
    });
    // Every state row points at one of this import's ledger rows.
    const mismatch = await sql<{ n: number }>`
      select count(*)::int as n from channel_consent cc
      left join consent_ledger l on l.id = cc.last_ledger_id
      where cc.address like 'killed%' and (l.id is null or l.details ->> 'import_id' <> ${job.id})`.execute(
      db,
    );
    expect(mismatch.rows[0]!.n).toBe(0);
  });

  it("imports 200,000 rows with a peak RSS growth under 150 MB", async () => {
    const rows = 200_000;
    const job = await queueCsv(
      "big.csv",
      `email,name\n${Array.from({ length: rows }, (_, i) =>
        i % 1000 === 0 ? `bad-${i},x` : `Big.User${i % 199_000}@Example.com,User ${i}`,
      ).join("\n")}\n`,
    );
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    await runPendingImports(db, runner);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    const growthMb = (peak - base) / 1024 / 1024;
    const done = (await getImportJob(db, job.id))!;
    console.log(
      `200,000-row CSV import on PostgreSQL: ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s), ` +
        `peak RSS growth ${growthMb.toFixed(1)} MB (from ${(base / 1024 / 1024).toFixed(0)} MB)`,
    );
    expect(done).toMatchObject({ status: "completed", rows_read: rows, invalid: 200 });
    // 199,000 address slots minus the 199 that only bad rows used; the last 999 rows repeat the first ones.
    expect(done).toMatchObject({ imported: 198_801, duplicates: 999, already_suppressed: 0 });
    expect(growthMb).toBeLessThan(150);
    const probe = await db
      .selectFrom("channel_consent")
      .select("status")
      .where("address_hash", "=", addressKey("big.user12345@example.com"))
      .executeTakeFirstOrThrow();
    expect(probe.status).toBe("unsubscribed");
    // The import's own time is not what this test bounds (13 s with two busy processes beside it).
  }, 180_000);
});
