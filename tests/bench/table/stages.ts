/**
 * The environments the rows run in (one per database kind, set up only when a selected row needs
 * it, torn down afterwards):
 *
 *   - "check":  an in-process database handle holding N suppressed addresses (1,000,000; quick:
 *               100,000), as the server holds it (PGlite in its worker thread);
 *   - "import": a fresh database and an in-process handle, for imports of a generated CSV file;
 *   - "http":   the production build started as a server (port `ports.heed`) on a seeded
 *               database: contacts with external ids (links batch, one-click, token pages) and an
 *               API key with every scope.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { BENCH_SECRETS, createPgDatabase, type DbKind, type Options, type RowResult } from "./lib";

Object.assign(process.env, { NODE_ENV: "test", LOG_LEVEL: "silent" }, BENCH_SECRETS);

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { addressKey } = await import("~/consent/consent.server");
const { createApiKey } = await import("~/api/keys.server");
const { serverBuild } = await import("../../integration/server.helpers");

/**
 * The production build as its own process (NODE_ENV=production), waited for until /healthz
 * answers (up to 3 minutes: the machine may be busy); stopped again if it never does.
 */
async function startServer(env: Record<string, string>) {
  // BENCH_SERVER_ENTRY=path/index.js: another build's server (to compare two versions).
  const entry = process.env.BENCH_SERVER_ENTRY ?? (await serverBuild());
  // BENCH_PROFILE_DIR=dir: the server writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_PROFILE_DIR
    ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(process.env.BENCH_PROFILE_DIR)]
    : [];
  const child = spawn(process.execPath, [...profile, entry], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      ALLOW_INSECURE_PUBLIC_URL: "1",
      MAIL_FROM: "Heed bench <no-reply@heed.test>",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited while starting:\n${err}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the server did not answer /healthz within 3 minutes:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, stop, pid: child.pid! };
}

type Handle = Awaited<ReturnType<typeof openPglite>>;
export type Db = Handle["db"];

export type StageBase = {
  kind: DbKind;
  options: Options;
  /** Rows measured so far in this run (a row may compare itself with an earlier one). */
  results: readonly RowResult[];
  work: string;
};

export type CheckStage = StageBase & {
  db: Db;
  /** How many suppressed addresses the database holds; address i is `suppressed{i}@bench.example`. */
  suppressed: number;
  /** The PostgreSQL database (null on PGlite). */
  pgUrl: string | null;
};

export type ImportStage = StageBase & {
  /** A fresh database per call (the import is measured on an empty database, as in issue 14). */
  freshDatabase: () => Promise<{ handle: Handle; url: string | null; drop: () => Promise<void> }>;
};

export type HttpStage = StageBase & {
  base: string;
  apiKey: string;
  /** External ids of the seeded contacts (`bench-{i}`, email `contact{i}@bench.example`). */
  externalIds: string[];
  /** The PostgreSQL database behind the server (null on PGlite). */
  pgUrl: string | null;
  /** Shared between rows: token URLs from the links batch, figures measured once. */
  shared: Map<string, unknown>;
  /** The server's process id (its CPU time is read from /proc: see processCpuMs). */
  serverPid: number;
};

export type Stages = { check: CheckStage; import: ImportStage; http: HttpStage };
export type StageName = keyof Stages;

async function open(kind: DbKind, options: Options, work: string, label: string) {
  if (kind === "postgres") {
    const database = await createPgDatabase(options.pgUrl, `heed_bench_${label}`);
    const handle = await openPostgres(database.url, 4);
    return {
      handle,
      url: database.url,
      dataDir: null,
      drop: async () => {
        await handle.close().catch(() => {});
        await database.drop();
      },
    };
  }
  const dataDir = fs.mkdtempSync(path.join(work, `${label}-`));
  const handle = await openPglite(dataDir, { worker: true });
  return {
    handle,
    url: null,
    dataDir,
    drop: async () => {
      await handle.close().catch(() => {});
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Seeds `n` suppressed addresses straight into channel_consent (bench set-up, not a consent path),
 * then brings the table to the state production reaches after such a bulk load.
 *
 * PostgreSQL: the check's probe is an index-only scan of channel_consent's key, which reads no
 * heap page only once VACUUM has set the table's visibility map. In production autovacuum does
 * that after a large load (the insert threshold, PostgreSQL 13+: 1,000 + 20 % of the table's rows
 * inserted), but the bench's server may run with autovacuum off (this machine's CI configuration
 * does), which left every suppressed address's probe fetching a heap page. So the bench vacuums,
 * as autovacuum would. PGlite has no autovacuum (one backend, no background workers) and Heed
 * never vacuums it, so there the bench does not either: it measures what an install has.
 */
async function seedSuppressed(db: Db, n: number, kind: DbKind) {
  const chunk = 50_000;
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const addresses: string[] = [];
    for (let i = start; i < end; i++) addresses.push(`suppressed${i}@bench.example`);
    const hashes = addresses.map((a) => addressKey(a));
    await sql`insert into channel_consent (channel, address_hash, address, status)
      select 'email', h, a, 'unsubscribed' from unnest(${hashes}::text[], ${addresses}::text[]) as t(h, a)`.execute(
      db,
    );
  }
  await sql`${sql.raw(kind === "postgres" ? "vacuum (analyze)" : "analyze")} channel_consent`.execute(
    db,
  );
}

/** A new, migrated database of the stage's kind (dropped by `drop`): for a row's own baseline. */
export async function openFreshDatabase(base: StageBase, label: string) {
  const o = await open(base.kind, base.options, base.work, label);
  try {
    await migrateToLatest(o.handle.db);
  } catch (e) {
    await o.drop();
    throw e;
  }
  return { handle: o.handle, url: o.url, drop: o.drop };
}

export async function withStage<N extends StageName>(
  name: N,
  base: StageBase,
  fn: (stage: Stages[N]) => Promise<void>,
): Promise<void> {
  const { kind, options, work } = base;
  if (name === "check") {
    const suppressed = options.quick ? 100_000 : 1_000_000;
    const o = await open(kind, options, work, "check");
    try {
      await migrateToLatest(o.handle.db);
      const t = performance.now();
      await seedSuppressed(o.handle.db, suppressed, kind);
      console.log(
        `  [${kind}] seeded ${suppressed.toLocaleString("en")} suppressed addresses in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      await fn({ ...base, db: o.handle.db, suppressed, pgUrl: o.url } as Stages[N]);
    } finally {
      await o.drop();
    }
    return;
  }
  if (name === "import") {
    const dbs: (() => Promise<void>)[] = [];
    try {
      await fn({
        ...base,
        freshDatabase: async () => {
          const o = await openFreshDatabase(base, "import");
          dbs.push(o.drop);
          return o;
        },
      } as Stages[N]);
    } finally {
      for (const drop of dbs) await drop().catch(() => {});
    }
    return;
  }
  // http
  // Full size: enough for the one-click row's warm-up and measurement to post to distinct
  // addresses (about 5,000 a second at most here).
  const contacts = options.quick ? 10_000 : 60_000;
  const o = await open(kind, options, work, "http");
  let apiKey: string;
  try {
    await migrateToLatest(o.handle.db);
    await sql`insert into contacts (external_id, email)
      select 'bench-' || i, 'contact' || i || '@bench.example'
      from generate_series(0, ${contacts - 1}::int) i`.execute(o.handle.db);
    await sql`analyze`.execute(o.handle.db);
    apiKey = (
      await createApiKey(o.handle.db, {
        name: "bench",
        scopes: ["links", "check", "suppressions"],
      })
    ).key;
  } catch (e) {
    await o.drop();
    throw e;
  }
  // PGlite: the data directory belongs to one process at a time; the server takes it over.
  if (kind === "pglite") await o.handle.close();
  const port = options.ports.heed;
  const env: Record<string, string> = {
    ...BENCH_SECRETS,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    FIRST_ADMIN_EMAIL: "admin@bench.test",
    FIRST_ADMIN_PASSWORD: "bench-admin-password-1",
    LOG_LEVEL: "warn",
    API_RATE_LIMIT_PER_MINUTE: "100000000",
    ...(o.url ? { DATABASE_URL: o.url } : { HEED_DATA_DIR: o.dataDir! }),
  };
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(env);
  } catch (e) {
    await o.drop();
    throw e;
  }
  try {
    await fn({
      ...base,
      base: server.url,
      apiKey,
      externalIds: Array.from({ length: contacts }, (_, i) => `bench-${i}`),
      pgUrl: o.url,
      serverPid: server.pid,
      shared: new Map(),
    } as Stages[N]);
  } finally {
    await server.stop();
    await o.drop();
  }
}

export function workDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "heed-bench-"));
}
