/**
 * Shared pieces of `npm run bench` (tests/bench/run.ts): result rows, autocannon, throwaway
 * PostgreSQL databases and the baseline servers the bench starts itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
// @ts-expect-error autocannon ships no type declarations (and @types/autocannon is not installed)
import autocannonUntyped from "autocannon";

export type DbKind = "postgres" | "pglite";

/** One line of the table: a figure, the baseline measured in the same run, and the goal. */
export type RowResult = {
  /** Row id (see rows.ts). */
  id: string;
  db: DbKind;
  /** What was measured, e.g. "GET /u/{token}". */
  what: string;
  figure: number;
  unit: string;
  /** p50/p99 latencies and other details of the measurement. */
  details?: Record<string, unknown>;
  baseline?: { what: string; figure: number; unit: string };
  /** figure ÷ baseline (for times: the figure's time ÷ the baseline's time). */
  ratio?: number;
  /** The goal in words (issue 14), e.g. "ratio ≥ 0.5". */
  goal?: string;
  met?: boolean;
};

export type Options = {
  quick: boolean;
  /** PostgreSQL admin URL (databases are created and dropped there). */
  pgUrl: string;
  /** Seconds per autocannon measurement. */
  seconds: number;
  connections: number;
  /** Ports the bench may use (servers it starts). */
  ports: { heed: number; hello: number; pgInsert: number };
};

export const BENCH_SECRETS = {
  SIGNING_KEYS: "bench-1:bench-signing-key-0123456789abcdef0123456789",
  SESSION_SECRET: "bench-session-secret-0123456789abcdef0123456789",
  ADDRESS_HASH_KEY: "bench-address-hash-key-0123456789abcdef01234567",
};

export type CannonResult = {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number; average: number };
  errors: number;
  non2xx: number;
  "2xx": number;
};

type CannonRequest = {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (r: Record<string, unknown>) => Record<string, unknown>;
};

const autocannonRaw = autocannonUntyped as (opts: {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: CannonRequest[];
}) => Promise<CannonResult>;

/** A 1-second warm-up (JIT, caches; not measured), then `seconds` of load. */
export async function cannon(
  options: Options,
  input: { url: string; requests?: CannonRequest[]; headers?: Record<string, string> },
): Promise<CannonResult> {
  const base = {
    url: input.url,
    connections: options.connections,
    headers: {
      "user-agent": "Mozilla/5.0 (compatible; heed-bench)",
      "accept-language": "en",
      ...input.headers,
    },
    ...(input.requests ? { requests: input.requests } : {}),
  };
  await autocannonRaw({ ...base, duration: 1 });
  return autocannonRaw({ ...base, duration: options.seconds });
}

/** The usual HTTP figures of an autocannon run. */
export function httpDetails(r: CannonResult) {
  return {
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
    requests: r.requests.total,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * CPU time, in ms, used so far by this process (every thread: PGlite's worker too) and by the
 * PostgreSQL backends connected to `database` (read from /proc: the server runs on this machine).
 * Unlike wall time, it hardly depends on what else the machine is doing.
 */
export async function cpuMs(pgUrl: string | null): Promise<{ node: number; db: number }> {
  const u = process.cpuUsage();
  let db = 0;
  if (pgUrl) for (const ms of (await backendCpuMs(pgUrl)).values()) db += ms;
  return { node: (u.user + u.system) / 1000, db };
}

/**
 * CPU time (ms) each backend of the PostgreSQL database of `pgUrl` used so far, by pid. Compare
 * two readings with backendCpuDelta: a pool closes and opens connections during a run.
 */
export async function backendCpuMs(pgUrl: string): Promise<Map<number, number>> {
  const name = new URL(pgUrl).pathname.slice(1);
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  const { rows } = await c.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
    [name],
  );
  await c.end();
  return new Map(rows.map(({ pid }) => [pid, processCpuMs(pid)]));
}

/**
 * The CPU (ms) the backends used between two readings: a backend in both counts its difference,
 * one that started meanwhile all of its time; one that ended meanwhile is lost (counted 0, never
 * negative).
 */
export function backendCpuDelta(a: Map<number, number>, z: Map<number, number>): number {
  let ms = 0;
  for (const [pid, end] of z) ms += Math.max(0, end - (a.get(pid) ?? 0));
  return ms;
}

/** CPU time (user + system, ms) a process used so far, all its threads (0 once it ended). */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // 100 Hz
  } catch {
    return 0;
  }
}

/** A new empty PostgreSQL database next to the admin URL's; drop() removes it. */
export async function createPgDatabase(adminUrl: string, prefix: string) {
  const name = `${prefix}_${crypto.randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Starts tests/bench/table/baseline-server.mjs (see there) and waits until it listens. */
export async function startBaseline(
  mode: "hello" | "pg-insert",
  port: number,
  pgUrl?: string,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const script = path.join(import.meta.dirname, "baseline-server.mjs");
  const child: ChildProcess = spawn(
    process.execPath,
    [script, mode, String(port), ...(pgUrl ? [pgUrl] : [])],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`baseline ${mode} exited (${code})`)));
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("listening")) resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Busy and total jiffies of the whole machine so far (/proc/stat's first line). */
function machineJiffies(): { busy: number; total: number } {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
  const n = fields.slice(1).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Waits, before a row, until the machine is calm: its CPU busy under a quarter over half a second,
 * and on PostgreSQL no autovacuum worker (after the import row's 1,000,000 rows, on a server that
 * runs autovacuum). At most `maxSeconds`. What it waited and the last busy fraction go into the
 * row's details, so a figure taken on a busy machine says so. It matters most for the rows
 * without a baseline (the links batch, the send check): a ratio's two sides see the same machine,
 * an absolute rate does not. On a calm machine it costs half a second a row (one sample).
 */
export async function settle(
  pgUrl: string | null,
  maxSeconds = 20,
): Promise<{ waited_s: number; busy: number; autovacuum: number }> {
  const started = performance.now();
  for (;;) {
    const a = machineJiffies();
    await new Promise((r) => setTimeout(r, 500));
    const z = machineJiffies();
    const busy = z.total > a.total ? (z.busy - a.busy) / (z.total - a.total) : 0;
    const autovacuum = pgUrl ? await autovacuumWorkers(pgUrl) : 0;
    const waited = (performance.now() - started) / 1000;
    if ((busy < 0.25 && autovacuum === 0) || waited >= maxSeconds) {
      return { waited_s: round(waited), busy: round(busy, 2), autovacuum };
    }
  }
}

/**
 * Autovacuum workers running now, in any database: the PostgreSQL rows' leftovers also slow the
 * PGlite rows after them. A server that cannot be reached (a PGlite-only run without one) has none.
 */
async function autovacuumWorkers(pgUrl: string): Promise<number> {
  const c = new pg.Client({ connectionString: pgUrl });
  try {
    await c.connect();
    const { rows } = await c.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where backend_type = 'autovacuum worker'",
    );
    return rows[0]?.n ?? 0;
  } catch {
    return 0;
  } finally {
    await c.end().catch(() => {});
  }
}
