/**
 * Bulk import figures: a 1,000,000-row CSV of suppressed addresses imported through the whole
 * pipeline (streamed CSV parse, normalization, keyed hash, set-based batches through the consent
 * core's bulk door, progress committed per batch), next to `psql \copy` of the same file into a
 * plain one-column table (the floor: bytes into PostgreSQL, no rules, no indexes).
 *
 *   npm run bench -- import                      (PostgreSQL at BENCH_DATABASE_URL, TEST_DATABASE_URL
 *                                                 or postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_IMPORT_ROWS=200000 npm run bench -- import
 *   BENCH_IMPORT_PGLITE=1 npm run bench -- import (also PGlite, on a tenth of the rows)
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??= "bench:bench-signing-key-0123456789abcdef0123456789";
process.env.SESSION_SECRET ??= "bench-session-secret-0123456789abcdef0123456789";
process.env.ADDRESS_HASH_KEY ??= "bench-address-hash-key-0123456789abcdef01234567";
process.env.LOG_LEVEL ??= "silent";

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { getEnv } = await import("~/env.server");
const jobs = await import("~/imports/jobs.server");
const { BULK_BATCH_SIZE } = await import("~/consent/bulk.server");
type Handle = Awaited<ReturnType<typeof openPglite>>;

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000);
const url =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "heed-import-bench-"));

function writeCsv(file: string, rows: number) {
  // Written in chunks: the bench itself keeps memory flat too.
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "email,reason\n");
  const chunk = 50_000;
  for (let start = 0; start < rows; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows, start + chunk); i++) {
      lines.push(`Subscriber.${i}@Example${i % 97}.com,${i % 10 === 0 ? "too_frequent" : ""}`);
    }
    fs.writeSync(fd, `${lines.join("\n")}\n`);
  }
  fs.closeSync(fd);
}

async function importOnce(name: string, handle: Handle, file: string, rows: number) {
  await migrateToLatest(handle.db);
  const env = { ...getEnv(), dataDir: work, IMPORT_MAX_ROWS: Math.max(rows, 5_000_000) };
  const id = crypto.randomUUID();
  const storedFile = `${id}.upload`;
  fs.mkdirSync(jobs.importsDir(env), { recursive: true });
  fs.copyFileSync(file, path.join(jobs.importsDir(env), storedFile));
  const prepared = await jobs.prepareImportFile(path.join(jobs.importsDir(env), storedFile), {
    fileName: path.basename(file),
    limits: { ...jobs.importLimits(env), maxFileBytes: 10 * 1024 ** 3 },
    channel: "email",
  });
  await jobs.createImportJob(handle.db, {
    id,
    fileName: path.basename(file),
    storedFile,
    fileSize: fs.statSync(file).size,
    prepared,
    channel: "email",
    createdBy: null,
  });
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  let peakHeap = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed + m.external);
  }, 50);
  const t = performance.now();
  const cpu = process.cpuUsage();
  const batchTimes: number[] = [];
  let last = performance.now();
  await jobs.runPendingImports(handle.db, {
    env,
    singleProcess: handle.kind === "pglite",
    onBatch: () => {
      const now = performance.now();
      batchTimes.push(now - last);
      last = now;
    },
  });
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(timer);
  const job = (await jobs.getImportJob(handle.db, id))!;
  if (job.status !== "completed" || job.imported !== rows) {
    throw new Error(
      `import did not complete: ${job.status} ${job.error ?? ""} imported=${job.imported}`,
    );
  }
  console.log(
    `${name}: import of ${rows.toLocaleString("en")} rows: ${seconds.toFixed(1)} s, ` +
      `${Math.round(rows / seconds).toLocaleString("en")} rows/s, peak RSS growth ${((peak - rssBefore) / 1024 / 1024).toFixed(0)} MB, ` +
      `peak heap ${(peakHeap / 1024 / 1024).toFixed(0)} MB, Node CPU ${((used.user + used.system) / 1e6).toFixed(1)} s`,
  );
  const avg = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1)).toFixed(0);
  console.log(
    `${name}: ms per batch of ${BULK_BATCH_SIZE.toLocaleString("en")}: first 10 ${avg(batchTimes.slice(1, 11))}, last 10 ${avg(batchTimes.slice(-10))}`,
  );
  // Re-import: nothing changes, every row is "already suppressed".
  const again = crypto.randomUUID();
  fs.copyFileSync(file, path.join(jobs.importsDir(env), `${again}.upload`));
  await jobs.createImportJob(handle.db, {
    id: again,
    fileName: path.basename(file),
    storedFile: `${again}.upload`,
    fileSize: fs.statSync(file).size,
    prepared,
    channel: "email",
    createdBy: null,
  });
  const t2 = performance.now();
  await jobs.runPendingImports(handle.db, { env, singleProcess: handle.kind === "pglite" });
  const s2 = (performance.now() - t2) / 1000;
  const second = (await jobs.getImportJob(handle.db, again))!;
  console.log(
    `${name}: re-import of the same file: ${s2.toFixed(1)} s, ${Math.round(rows / s2).toLocaleString("en")} rows/s ` +
      `(${second.already_suppressed.toLocaleString("en")} already suppressed, ${second.imported} imported)`,
  );
  await handle.close();
  return seconds;
}

const file = path.join(work, `suppressions-${ROWS}.csv`);
writeCsv(file, ROWS);
console.log(
  `file: ${ROWS.toLocaleString("en")} rows, ${(fs.statSync(file).size / 1024 / 1024).toFixed(1)} MB`,
);

const dbName = `heed_bench_import_${crypto.randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`create database ${dbName}`);
const u = new URL(url);
u.pathname = `/${dbName}`;
try {
  // psql \copy of the same file into a plain table: the floor.
  spawnSync("psql", [u.toString(), "-qc", "create table plain_copy (email text, reason text)"], {
    stdio: "inherit",
  });
  const t = performance.now();
  const copy = spawnSync(
    "psql",
    [
      u.toString(),
      "-qc",
      `\\copy plain_copy from '${file.replace(/'/g, "''")}' with (format csv, header true)`,
    ],
    { stdio: "inherit" },
  );
  const copySeconds = (performance.now() - t) / 1000;
  if (copy.status !== 0) throw new Error("psql \\copy failed");
  console.log(
    `PostgreSQL: psql \\copy of the same file into a plain table: ${copySeconds.toFixed(1)} s, ` +
      `${Math.round(ROWS / copySeconds).toLocaleString("en")} rows/s`,
  );
  spawnSync("psql", [u.toString(), "-qc", "drop table plain_copy"], { stdio: "inherit" });
  const importSeconds = await importOnce(
    "PostgreSQL",
    await openPostgres(u.toString(), 4),
    file,
    ROWS,
  );
  console.log(
    `PostgreSQL: the import takes ${(importSeconds / copySeconds).toFixed(1)}× the time of a bare \\copy`,
  );
} finally {
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}

if (process.env.BENCH_IMPORT_PGLITE) {
  const small = Math.ceil(ROWS / 10);
  const smallFile = path.join(work, `suppressions-${small}.csv`);
  writeCsv(smallFile, small);
  await importOnce("PGlite", await openPglite("memory://", { lock: false }), smallFile, small);
}
fs.rmSync(work, { recursive: true, force: true });
