/**
 * Do recipients wait on admin work? p99 latency of GET /healthz, GET /u/{token} and RFC 8058
 * one-click POSTs (distinct addresses), each measured with autocannon:
 *   1. on an idle server (the baseline, same run),
 *   2. while a 500,000-row suppressions export streams (GET /api/v1/suppressions.csv, restarted
 *      whenever it ends; its time to first byte and total time are reported too),
 *   3. while a 1,000,000-row import runs (uploaded through the admin area like an operator does),
 *   4. while a report runs, after that import: the admin Reports page (the last 30 days, the
 *      import's day included) loaded again and again, one load at a time, each after a one-click
 *      unsubscribe through a campaign with BENCH_EXPORT_ROWS / 2 leavers (so the campaign is
 *      always pending and its people are counted live), and the reports' rollup (the server's
 *      own task, every minute: the phase starts 1 s before one of its runs) recounting it.
 *      The loads' times are reported too.
 * On PGlite and on PostgreSQL, against the built server in production mode.
 *
 *   npm run bench -- admin-load
 *   BENCH_DB=pglite BENCH_EXPORT_ROWS=100000 BENCH_IMPORT_ROWS=200000 npm run bench -- admin-load
 *
 * Options (env): BENCH_DB (pglite,postgres; pglite-thread: PGlite in the request thread), BENCH_SECONDS per measurement (8),
 * BENCH_CONNECTIONS (20), BENCH_DATABASE_URL / TEST_DATABASE_URL (PostgreSQL admin URL),
 * BENCH_JSON (write the figures there), BENCH_PHASES (export,import,report: which loaded phases to
 * measure; the import still runs when only the report phase is asked for). Never part of the tests.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
// @ts-expect-error autocannon ships no type declarations (and @types/autocannon is not installed)
import autocannonUntyped from "autocannon";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??= "bench-1:bench-signing-key-0123456789abcdef0123456789";
process.env.SESSION_SECRET ??= "bench-session-secret-0123456789abcdef0123456789";
process.env.ADDRESS_HASH_KEY ??= "bench-address-hash-key-0123456789abcdef01234567";
process.env.LOG_LEVEL ??= "silent";

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { signLinkToken } = await import("~/links/tokens.server");
const { createApiKey } = await import("~/api/keys.server");
const { runRollup } = await import("~/reports/rollup.server");
const { sql } = await import("kysely");
const { adminLogin, adminUploadImport, startServer } =
  await import("../integration/server.helpers");
type Db = import("~/db/db.server").Db;

type Result = {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
};
type Client = { setBody: (b: string) => void };
const autocannon = autocannonUntyped as (opts: {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: { method?: string; path?: string; setupRequest?: (r: object) => object }[];
}) => Promise<Result>;
void (null as unknown as Client);

const KINDS = (process.env.BENCH_DB ?? "pglite,postgres").split(",").map((s) => s.trim());
const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 500_000);
const IMPORT_ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const PHASES = new Set(
  (process.env.BENCH_PHASES ?? "export,import,report").split(",").map((s) => s.trim()),
);
const ONE_CLICK_CONTACTS = Number(process.env.BENCH_ONE_CLICK_CONTACTS ?? 20_000);
const PG_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "heed-admin-load-"));

type Fixture = {
  apiKey: string;
  pageToken: string;
  oneClickTokens: string[];
  /** One-click tokens through CAMPAIGN, for the report phase's trickle of campaign leavers. */
  campaignTokens: string[];
};

/** The campaign half of the seeded suppressions left through (link and one-click rows). */
const CAMPAIGN = "bench-launch";

/**
 * 500,000 suppressions (ledger + state; the link and one-click half through CAMPAIGN), a page
 * contact, one-click contacts and an API key.
 */
async function seed(db: Db): Promise<Fixture> {
  await migrateToLatest(db);
  const t0 = performance.now();
  await sql`insert into campaigns (key, name, channel, sent_count, created_at)
    values (${CAMPAIGN}, 'Bench launch', 'email', ${EXPORT_ROWS * 20}, now() - interval '2 days')`.execute(
    db,
  );
  const chunk = 100_000;
  for (let start = 0; start < EXPORT_ROWS; start += chunk) {
    const end = Math.min(EXPORT_ROWS, start + chunk);
    await sql`
      insert into consent_ledger (channel, address_hash, address, action, source, reason_code, campaign, occurred_at)
      select 'email', md5('seed' || i), 'seed' || i || '@bench.example', 'unsubscribe',
        (array['link','one_click','import','api'])[1 + i % 4], case when i % 5 = 0 then 'too_frequent' end,
        case when i % 4 < 2 then ${CAMPAIGN} end, now() - make_interval(secs => i)
      from generate_series(${start + 1}::int, ${end}::int) i`.execute(db);
  }
  await sql`
    insert into channel_consent (channel, address_hash, address, status, last_ledger_id, updated_at)
    select channel, address_hash, address, 'unsubscribed', id, occurred_at
    from consent_ledger where address like 'seed%@bench.example'`.execute(db);
  await sql`analyze`.execute(db);
  // The reports' first rollup over the seeded ledger, so that the server's runs are incremental.
  await runRollup(db);
  console.log(
    `  seeded ${EXPORT_ROWS.toLocaleString("en")} suppressions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const [page] = await db
    .insertInto("contacts")
    .values({ email: "page@bench.example" })
    .returning("id")
    .execute();
  const contacts = async (prefix: string, n: number) => {
    const ids: string[] = [];
    for (let start = 0; start < n; start += 5_000) {
      const rows = await db
        .insertInto("contacts")
        .values(
          Array.from({ length: Math.min(5_000, n - start) }, (_, i) => ({
            email: `${prefix}${start + i}@bench.example`,
          })),
        )
        .returning("id")
        .execute();
      ids.push(...rows.map((r) => r.id));
    }
    return ids;
  };
  const oneClickTokens = await Promise.all(
    (await contacts("click", ONE_CLICK_CONTACTS)).map((id) =>
      signLinkToken({ contactId: id, channel: "email", purpose: "unsubscribe" }),
    ),
  );
  const campaignTokens = await Promise.all(
    (await contacts("leaver", 2_000)).map((id) =>
      signLinkToken({
        contactId: id,
        channel: "email",
        purpose: "unsubscribe",
        campaign: CAMPAIGN,
      }),
    ),
  );
  const pageToken = await signLinkToken({
    contactId: page!.id,
    channel: "email",
    purpose: "unsubscribe",
  });
  const apiKey = (await createApiKey(db, { name: "bench", scopes: ["suppressions"] })).key;
  return { apiKey, pageToken, oneClickTokens, campaignTokens };
}

function importCsv(rows: number): string {
  const file = path.join(work, `import-${rows}.csv`);
  if (fs.existsSync(file)) return file;
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "email\n");
  for (let start = 0; start < rows; start += 50_000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows, start + 50_000); i++)
      lines.push(`imported${i}@bench${i % 97}.example`);
    fs.writeSync(fd, `${lines.join("\n")}\n`);
  }
  fs.closeSync(fd);
  return file;
}

type Measure = { path: string; rps: number; p50: number; p99: number; max: number; bad: number };

async function cannon(
  base: string,
  target: string,
  fx: Fixture,
  cursor: { i: number },
): Promise<Measure> {
  let r: Result;
  if (target === "one-click") {
    r = await autocannon({
      url: base,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [
        {
          method: "POST",
          setupRequest: (req) => ({
            ...req,
            path: `/u/${fx.oneClickTokens[cursor.i++ % fx.oneClickTokens.length]}`,
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: "List-Unsubscribe=One-Click",
          }),
        },
      ],
    });
  } else {
    const p = target === "healthz" ? "/healthz" : `/u/${fx.pageToken}`;
    r = await autocannon({ url: `${base}${p}`, connections: CONNECTIONS, duration: SECONDS });
  }
  return {
    path: target,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    bad: r.errors + r.non2xx,
  };
}

/** Streams the export again and again until stopped; reports each run's first byte and end. */
function exportLoop(base: string, apiKey: string) {
  let stop = false;
  const runs: { ttfbMs: number; totalMs: number; bytes: number }[] = [];
  const done = (async () => {
    while (!stop) {
      const t0 = performance.now();
      const res = await fetch(`${base}/api/v1/suppressions.csv`, {
        headers: { Authorization: `Bearer ${apiKey}` },
      });
      const reader = res.body!.getReader();
      let ttfb = -1;
      let bytes = 0;
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        if (ttfb < 0) ttfb = performance.now() - t0;
        bytes += value.byteLength;
        if (stop) {
          await reader.cancel();
          break;
        }
      }
      if (!stop) runs.push({ ttfbMs: ttfb, totalMs: performance.now() - t0, bytes });
      else if (runs.length === 0) runs.push({ ttfbMs: ttfb, totalMs: -1, bytes });
    }
  })();
  return {
    runs,
    async stop() {
      stop = true;
      await done;
    },
  };
}

/**
 * An operator on the Reports page (the default range: the last 30 days, today's import
 * included), loading it again and again, one load at a time; before each load one recipient more
 * leaves through CAMPAIGN (one-click), so the campaign is pending for every load and every rollup.
 */
function reportLoop(base: string, cookie: string, fx: Fixture) {
  let stop = false;
  const loads: number[] = [];
  let bad = 0;
  let next = 0;
  const done = (async () => {
    while (!stop) {
      const token = fx.campaignTokens[next++ % fx.campaignTokens.length];
      const click = await fetch(`${base}/u/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      await click.body?.cancel();
      const t0 = performance.now();
      const res = await fetch(`${base}/admin/reports`, { headers: { Cookie: cookie } });
      const html = await res.text();
      if (res.status !== 200 || !html.includes(CAMPAIGN)) bad++;
      loads.push(performance.now() - t0);
    }
  })();
  return {
    loads,
    bad: () => bad,
    async stop() {
      stop = true;
      await done;
    },
  };
}

type Figures = Record<string, unknown>;

async function runKind(kind: string): Promise<Figures> {
  console.log(`\n## ${kind}`);
  const env: Record<string, string> = {
    FIRST_ADMIN_EMAIL: "admin@bench.test",
    FIRST_ADMIN_PASSWORD: "bench-admin-password-1",
    SIGNING_KEYS: process.env.SIGNING_KEYS!,
    SESSION_SECRET: process.env.SESSION_SECRET!,
    ADDRESS_HASH_KEY: process.env.ADDRESS_HASH_KEY!,
    LOG_LEVEL: "warn",
    IMPORT_MAX_ROWS: String(Math.max(IMPORT_ROWS, 5_000_000)),
    IMPORT_MAX_FILE_MB: "1000",
    API_RATE_LIMIT_PER_MINUTE: "1000000",
  };
  let fx: Fixture;
  let dropDb: (() => Promise<void>) | null = null;
  const dataDir = fs.mkdtempSync(path.join(work, `${kind}-`));
  env.HEED_DATA_DIR = dataDir;
  if (kind === "pglite-thread") env.PGLITE_WORKER = "0"; // PGlite in the request thread
  if (kind.startsWith("pglite")) {
    const h = await openPglite(dataDir);
    try {
      fx = await seed(h.db);
    } finally {
      await h.close();
    }
  } else {
    const name = `heed_bench_load_${crypto.randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    env.DATABASE_URL = u.toString();
    const h = await openPostgres(u.toString(), 4);
    try {
      fx = await seed(h.db);
    } finally {
      await h.close();
    }
    dropDb = async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const server = await startServer(env);
  // The server's background tasks (the reports' rollup among them) run every minute from about now.
  const startedAt = performance.now();
  const cursor = { i: 0 };
  const targets = ["healthz", "page", "one-click"];
  const figures: Figures = { kind };
  try {
    const baseline: Measure[] = [];
    for (const t of targets) baseline.push(await cannon(server.url, t, fx, cursor));
    figures.baseline = baseline;
    // One exit for the phases not asked for (BENCH_PHASES).
    phases: {
      if (PHASES.has("export")) {
        const exports = exportLoop(server.url, fx.apiKey);
        const duringExport: Measure[] = [];
        for (const t of targets) duringExport.push(await cannon(server.url, t, fx, cursor));
        await exports.stop();
        figures.duringExport = duringExport;
        figures.exports = exports.runs;
      }
      if (!PHASES.has("import") && !PHASES.has("report")) break phases;

      const cookie = await adminLogin(server.url, "admin@bench.test", "bench-admin-password-1");
      const file = importCsv(IMPORT_ROWS);
      const t0 = performance.now();
      const jobId = await adminUploadImport(
        server.url,
        cookie,
        new Blob([fs.readFileSync(file)], { type: "text/csv" }),
      );
      if (PHASES.has("import")) {
        const duringImport: Measure[] = [];
        for (const t of targets) duringImport.push(await cannon(server.url, t, fx, cursor));
        figures.duringImport = duringImport;
      }
      // Wait for the import to end, then report how long it took.
      let status = "";
      for (;;) {
        const html = await (
          await fetch(`${server.url}/admin/imports/${jobId}`, { headers: { Cookie: cookie } })
        ).text();
        status = /Completed|Failed/.exec(html)?.[0] ?? "";
        if (status) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      figures.import = { rows: IMPORT_ROWS, seconds: (performance.now() - t0) / 1000, status };

      if (!PHASES.has("report")) break phases;
      // A report runs: the Reports page again and again, and the rollup's next run 1 s in.
      const report = reportLoop(server.url, cookie, fx);
      const sinceStart = performance.now() - startedAt;
      const nextRun = Math.ceil((sinceStart + 2_000) / 60_000) * 60_000;
      await new Promise((r) => setTimeout(r, nextRun - sinceStart - 1_000));
      const duringReport: Measure[] = [];
      for (const t of targets) duringReport.push(await cannon(server.url, t, fx, cursor));
      await report.stop();
      figures.duringReport = duringReport;
      figures.reportLoads = { ms: report.loads, bad: report.bad() };
    }
  } finally {
    await server.stop();
    await dropDb?.();
  }
  printKind(figures);
  return figures;
}

function printKind(f: Figures) {
  const rows = (label: string, ms: Measure[]) =>
    ms.map((m) => ({
      phase: label,
      path: m.path,
      "req/s": m.rps,
      "p50 ms": m.p50,
      "p99 ms": m.p99,
      "max ms": m.max,
      "non-2xx": m.bad,
    }));
  console.table([
    ...rows("idle (baseline)", f.baseline as Measure[]),
    ...rows("during export", (f.duringExport ?? []) as Measure[]),
    ...rows("during import", (f.duringImport ?? []) as Measure[]),
    ...rows("during report", (f.duringReport ?? []) as Measure[]),
  ]);
  const runs = (f.exports ?? []) as { ttfbMs: number; totalMs: number; bytes: number }[];
  if (runs.length)
    console.log(
      `  export runs: ${runs
        .map(
          (r) =>
            `first byte ${r.ttfbMs.toFixed(0)} ms, ${r.totalMs < 0 ? "cut" : `done in ${(r.totalMs / 1000).toFixed(1)} s`}, ${(r.bytes / 1e6).toFixed(1)} MB`,
        )
        .join("; ")}`,
    );
  const imp = f.import as { rows: number; seconds: number; status: string } | undefined;
  if (imp)
    console.log(
      `  import of ${imp.rows.toLocaleString("en")} rows: ${imp.status} in ${imp.seconds.toFixed(1)} s`,
    );
  const rep = f.reportLoads as { ms: number[]; bad: number } | undefined;
  if (!rep) return;
  const sorted = [...rep.ms].sort((a, b) => a - b);
  console.log(
    `  report page loads: ${rep.ms.length}, median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)} ms, ` +
      `longest ${(sorted.at(-1) ?? 0).toFixed(0)} ms, not 200 or without the campaign: ${rep.bad}`,
  );
  console.log(
    `  load average: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}

const all: Figures[] = [];
try {
  for (const kind of KINDS) all.push(await runKind(kind));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
if (process.env.BENCH_JSON) {
  fs.writeFileSync(
    process.env.BENCH_JSON,
    JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, results: all }, null, 2),
  );
}
