import fs from "node:fs";
import path from "node:path";
import { Kysely, PostgresDialect, sql, type LogEvent, type Transaction } from "kysely";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";
import { PGliteDialect } from "kysely-pglite-dialect";
import { DatabaseHealth } from "~/db/faults.server";
import {
  PgliteWorkerClient,
  pgliteWorkerDialect,
  PREPARED_MARKER,
} from "~/db/pglite-worker.server";
import type { Database } from "~/db/schema";

/**
 * The one executor type. A Kysely transaction is a Kysely, so data functions take a `Db` and work
 * the same on the process handle, inside a transaction and in tests. Ask for a `Trx` only where
 * the function locks rows and so must run inside a transaction.
 */
export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;

/** Runs fn in the caller's transaction, or in a new one. */
export async function inTransaction<T>(db: Db, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Trx);
  return db.transaction().execute(fn);
}

/** The databases that are one session shared by every caller (PGlite): see sharesOneSession. */
const ONE_SESSION = new WeakSet<Db>();

/**
 * Whether this database is one session that every request shares (PGlite, in a worker or not):
 * there a long statement makes every request wait, so long reads go in slices. On PostgreSQL
 * each request has its own connection. A transaction of either kind answers false.
 */
export function sharesOneSession(db: Db): boolean {
  return ONE_SESSION.has(db);
}

export type DatabaseHandle = {
  db: Db;
  kind: "pglite" | "postgres";
  /** Whether the database answered lately (see DatabaseHealth); changes are logged by the server. */
  health: DatabaseHealth;
  /** The pg pool when kind is postgres (COPY and cursors need a raw client). */
  pool?: pg.Pool;
  /** PGlite in the calling thread (tests, CLIs). */
  pglite?: PGlite;
  /** PGlite in a worker thread (the server: see pglite-worker.server.ts). */
  pgliteWorker?: PgliteWorkerClient;
  close(): Promise<void>;
};

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The PGlite data directory ${dir} is in use by another Heed process (pid ${pid}). ` +
        `Stop that process first, use another HEED_DATA_DIR, or set DATABASE_URL to share a PostgreSQL server between processes.`,
    );
    this.name = "DataDirLockedError";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite is single-process: two processes on one data directory corrupt it. A lock file holding
 * the owner's pid refuses a second process; a lock left by a dead process is taken over.
 */
export function lockDataDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const lockFile = path.join(dir, "heed.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (fs.readFileSync(lockFile, "utf8") === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number.parseInt(fs.readFileSync(lockFile, "utf8"), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(dir, owner);
      }
      fs.rmSync(lockFile, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`Could not lock ${dir}`);
}

// int8 (count(*), bigint ids) as numbers on both databases: PGlite already returns numbers.
const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
} as pg.CustomTypesConfig;

/**
 * Hot statements as named prepared statements on PostgreSQL (docs/decisions/0101): a statement
 * whose SQL starts with `preparedStatement(name)` is parsed and planned once per pooled
 * connection, then only bound and executed. Kysely sends every query unnamed, so PostgreSQL
 * parses and plans it again on every call: for the one-click statement (three CTE inserts whose
 * ledger row fires the chain trigger) that was more of the database's CPU than executing it.
 * Only statements whose text is fixed (values are parameters) may be marked: node-postgres keeps
 * one text per name and connection. The server's PGlite worker prepares marked statements too
 * (pglite-worker.server.ts); PGlite in the calling thread runs the text (the marker is a comment).
 */
export function preparedStatement(name: string) {
  if (!/^[a-z0-9_]{1,48}$/.test(name)) throw new Error(`bad prepared statement name ${name}`);
  return sql.raw(`/* heed:prepared ${name} */ `);
}

function runPreparedByName(client: pg.PoolClient) {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (typeof text === "string" && args.length <= 2) {
      const m = PREPARED_MARKER.exec(text);
      if (m) return query({ name: `heed_${m[1]}`, text, values });
    }
    return query(...args);
  };
}

export type PostgresOptions = {
  /** How long a request waits for a connection (a new one, or a free one of a full pool). */
  connectTimeoutMs?: number;
};

/** Every query tells the handle's health whether the database answered. */
function healthLog(health: DatabaseHealth): (event: LogEvent) => void {
  return (event) => {
    if (event.level === "query") health.succeeded();
    else health.failed(event.error);
  };
}

export async function openPostgres(
  url: string,
  max = 10,
  options: PostgresOptions = {},
): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: pgTypes,
    // Without a bound, a request waits forever for an unreachable server or a full pool; with
    // one it gets a clear error, which the HTTP layer answers with 503 + Retry-After.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // Finds connections that a failover or a dropped network silently killed.
    keepAlive: true,
  });
  const health = new DatabaseHealth();
  const onError = (error: Error) => health.failed(error);
  // A backend can be terminated (restart, failover, pg_terminate_backend) while its client sits
  // idle in the pool or is checked out between two queries. node-postgres then emits `error` on
  // that client, and an `error` event without a listener ends the process. The pool listens on
  // idle clients; this listener covers every client for its whole life. The failed client is
  // not queryable any more: its query (if any) fails, and the pool discards it when released.
  pool.on("connect", (client) => {
    client.on("error", onError);
    runPreparedByName(client);
  });
  pool.on("error", onError);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: healthLog(health),
  });
  return {
    db,
    kind: "postgres",
    health,
    pool,
    close: () => db.destroy(),
  };
}

export async function openPglite(
  dataDir: string,
  options: {
    lock?: boolean;
    loadDataDir?: Blob | File;
    /** Run PGlite in a worker thread, off the calling thread (what the server does). */
    worker?: boolean;
  } = {},
): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith("memory://");
  const release = options.lock === false || inMemory ? () => {} : lockDataDir(dataDir);
  if (options.worker) {
    try {
      const health = new DatabaseHealth();
      const client = await PgliteWorkerClient.start({
        dataDir: inMemory ? dataDir : path.join(dataDir, "pglite"),
        loadDataDir: options.loadDataDir ? await options.loadDataDir.arrayBuffer() : undefined,
        onWorkerExit: (error) => health.failed(error),
      });
      const db = new Kysely<Database>({
        dialect: pgliteWorkerDialect(client),
        log: healthLog(health),
      });
      ONE_SESSION.add(db);
      return {
        db,
        kind: "pglite",
        health,
        pgliteWorker: client,
        async close() {
          try {
            await db.destroy(); // closes PGlite, ends the worker
          } finally {
            release();
          }
        },
      };
    } catch (e) {
      release();
      throw e;
    }
  }
  try {
    const pglite = await PGlite.create({
      dataDir: inMemory ? dataDir : path.join(dataDir, "pglite"),
      loadDataDir: options.loadDataDir,
    });
    const health = new DatabaseHealth();
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), log: healthLog(health) });
    ONE_SESSION.add(db);
    return {
      db,
      kind: "pglite",
      health,
      pglite,
      async close() {
        try {
          await db.destroy(); // closes PGlite
        } finally {
          release();
        }
      },
    };
  } catch (e) {
    release();
    throw e;
  }
}

export async function openDatabase(config: {
  databaseUrl?: string;
  dataDir: string;
  poolMax?: number;
  postgres?: PostgresOptions;
  /** PGlite in a worker thread (the server) or in the calling thread (CLIs). */
  pgliteWorker?: boolean;
}): Promise<DatabaseHandle> {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl, config.poolMax, config.postgres)
    : openPglite(config.dataDir, { worker: config.pgliteWorker });
}

export async function pingDatabase(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const ping = sql`select 1 as ok`.execute(db).then(() => true);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([ping, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/*
 * The process-wide handle. The server opens it once at start-up (app/server/main.ts) and routes
 * read it with getDb(). Kept on globalThis so a dev rebuild does not open a second PGlite.
 */
const GLOBAL_KEY = Symbol.for("heed.database");
type GlobalWithDb = typeof globalThis & { [GLOBAL_KEY]?: DatabaseHandle };

export function setDatabase(handle: DatabaseHandle | undefined): void {
  (globalThis as GlobalWithDb)[GLOBAL_KEY] = handle;
}

export function getDatabase(): DatabaseHandle {
  const handle = (globalThis as GlobalWithDb)[GLOBAL_KEY];
  if (!handle) throw new Error("The database is not open yet (setDatabase was not called).");
  return handle;
}

export function getDb(): Db {
  return getDatabase().db;
}
