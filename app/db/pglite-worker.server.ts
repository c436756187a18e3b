import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import { DatabaseUnavailableError } from "~/db/faults.server";
import { isBackgroundLane, trackLanes } from "~/db/priority.server";

/**
 * PGlite off the request thread.
 *
 * PGlite is PostgreSQL compiled to WebAssembly, and it runs in the thread that calls it: a
 * statement that takes 300 ms (an export page, an import batch, a report) stops that thread for
 * 300 ms, and in the server that is the thread answering every request (/healthz included). Here a
 * worker thread owns the PGlite instance and the server talks to it with messages, so the request
 * thread keeps parsing requests, rendering pages and streaming responses while a statement runs,
 * and the statement's CPU work runs on another core.
 *
 * PGlite has one session. The driver below therefore hands out one connection at a time: a
 * transaction keeps it from BEGIN to COMMIT, so nothing else runs inside someone else's
 * transaction, and a long job made of short statements (export pages, import batches) runs in the
 * background lane and lets waiting requests go first between two of its statements. Each query is one
 * message to the worker and one back (rows are copied by structured clone: Dates, numbers,
 * parsed JSON arrive as PGlite made them, exactly as in the calling thread).
 *
 * If the worker dies (a WebAssembly abort, out of memory), queries fail with
 * DatabaseUnavailableError (the HTTP layer answers 503) and the worker is started again on the
 * same data directory, with backoff; a transaction that was open fails rather than continuing on
 * the new session.
 */

type WireError = { message: string; name?: string; [field: string]: unknown };
type Reply =
  | { type: "ready" }
  | { type: "failed"; error: WireError }
  | { id: number; ok: true; rows: unknown[]; affectedRows?: number }
  | { id: number; ok: false; error: WireError };

/**
 * The worker's program. Its source is sent to the worker as text (new Worker(source, { eval })):
 * it must use nothing but its arguments and globals.
 */
type PGliteLike = {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  close(): Promise<void>;
  execProtocol(
    message: Uint8Array,
    options: { syncToFs: boolean },
  ): Promise<{ messages: unknown[] }>;
  syncToFs(): Promise<void>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
  serializers: Record<number, (v: unknown) => string>;
  parsers: Record<number, unknown>;
};
type PGliteModule = {
  PGlite: { create(options: object): Promise<PGliteLike> };
  protocol: {
    serialize: {
      parse(o: { name: string; text: string }): Uint8Array;
      describe(o: { type: "S" | "P"; name?: string }): Uint8Array;
      bind(o: { statement: string; values: (string | null)[] }): Uint8Array;
      execute(o: object): Uint8Array;
      sync(): Uint8Array;
    };
  };
  parse: {
    parseDescribeStatementResults(messages: unknown[]): number[];
    parseResults(
      messages: unknown[],
      parsers: Record<number, unknown>,
    ): { rows: unknown[]; affectedRows?: number }[];
  };
};

/**
 * How a statement marked by preparedStatement(name) (db.server.ts) starts: the one pattern both
 * the PostgreSQL pool and the PGlite worker read the name with.
 */
export const PREPARED_MARKER = /^\/\* heed:prepared ([a-z0-9_]{1,48}) \*\//;

async function pgliteWorkerMain(
  threads: typeof import("node:worker_threads"),
  load: (path: string) => PGliteModule,
) {
  const port = threads.parentPort!;
  const data = threads.workerData as {
    pglitePath: string;
    dataDir: string;
    loadDataDir?: ArrayBuffer;
    preparedPattern: string;
  };
  const wire = (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const out: Record<string, unknown> = { message: err.message, name: err.name };
    for (const [k, v] of Object.entries(err)) {
      if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v;
    }
    return out;
  };
  let db: PGliteLike;
  let mod: PGliteModule;
  try {
    mod = load(data.pglitePath);
    db = await mod.PGlite.create({
      dataDir: data.dataDir,
      ...(data.loadDataDir ? { loadDataDir: new Blob([data.loadDataDir]) } : {}),
    });
  } catch (e) {
    port.postMessage({ type: "failed", error: wire(e) });
    return;
  }
  /**
   * A statement marked with preparedStatement(name) (db.server.ts) as a named prepared statement
   * of PGlite's one session: parsed and planned once, then only bound and executed — what
   * PGlite's own query() does with an unnamed statement, message by message (parse, describe,
   * bind, describe, execute, sync), with the same parameter serializers, result parsers and
   * write-back to the data directory. For the one-click statement parsing and planning were
   * about two thirds of its time in PGlite.
   */
  // PREPARED_MARKER, handed over as workerData: this function runs from its source text in the
  // worker, so it cannot import it.
  const PREPARED_RE = new RegExp(data.preparedPattern);
  /** Prepared in this worker's session: name → parameter type oids. */
  const prepared = new Map<string, number[]>();
  const { serialize } = mod.protocol;
  const queryPrepared = (name: string, text: string, params: unknown[]) =>
    db._runExclusiveQuery(async () => {
      const opts = { syncToFs: false };
      const messages: unknown[] = [];
      try {
        let types = prepared.get(name);
        if (!types) {
          await db.execProtocol(serialize.parse({ name, text }), opts);
          // Known from here on (a second Parse of the name would fail), even if describe fails.
          prepared.set(name, []);
          const described = await db.execProtocol(serialize.describe({ type: "S", name }), opts);
          types = mod.parse.parseDescribeStatementResults(described.messages);
          prepared.set(name, types);
        }
        const values = params.map((v, i) => {
          if (v === null || v === undefined) return null;
          const serializer = db.serializers[types[i]!];
          return serializer ? serializer(v) : String(v);
        });
        for (const m of [
          serialize.bind({ statement: name, values }),
          serialize.describe({ type: "P" }),
          serialize.execute({}),
        ]) {
          messages.push(...(await db.execProtocol(m, opts)).messages);
        }
      } finally {
        messages.push(...(await db.execProtocol(serialize.sync(), opts)).messages);
      }
      await db.syncToFs();
      return mod.parse.parseResults(messages, db.parsers)[0]!;
    });
  const query = (text: string, params: unknown[]) => {
    const m = PREPARED_RE.exec(text);
    return m ? queryPrepared(`heed_${m[1]}`, text, params) : db.query(text, params);
  };
  port.on(
    "message",
    (msg: { id: number; op: "query" | "close"; sql?: string; params?: unknown[] }) => {
      const run =
        msg.op === "close"
          ? db.close().then(() => ({ rows: [] as unknown[], affectedRows: 0 }))
          : query(msg.sql!, msg.params ?? []);
      run.then(
        (r) =>
          port.postMessage({ id: msg.id, ok: true, rows: r.rows, affectedRows: r.affectedRows }),
        (e: unknown) => port.postMessage({ id: msg.id, ok: false, error: wire(e) }),
      );
    },
  );
  port.postMessage({ type: "ready" });
}

// `__name` guards against a bundler that wraps function names (esbuild's keepNames).
const WORKER_SOURCE = `var __name = (f) => f;
(${pgliteWorkerMain.toString()})(require("node:worker_threads"), (p) => require(p));`;

/** An error of the worker's PGlite, with its fields (code, detail, constraint, ...) kept. */
function fromWire(e: WireError): Error {
  const err = new Error(e.message);
  Object.assign(err, e);
  if (e.name) err.name = e.name;
  return err;
}

export type PgliteWorkerOptions = {
  /** A directory, or memory:// for a database that lives as long as the worker. */
  dataDir: string;
  /** A data-dir dump to start from (tests' migrated template). */
  loadDataDir?: ArrayBuffer;
  /** Called when the worker stopped unexpectedly (and when it is back). */
  onWorkerExit?: (error: Error) => void;
};

/** The worker and its message traffic; restarts the worker if it dies. */
export class PgliteWorkerClient {
  #options: PgliteWorkerOptions;
  #worker: Worker | null = null;
  #pending = new Map<
    number,
    { resolve: (r: QueryResult<unknown>) => void; reject: (e: unknown) => void }
  >();
  #nextId = 1;
  /** Counts worker starts: a connection from an older worker must not run on a new session. */
  generation = 0;
  #closed = false;
  #restarts = 0;

  private constructor(options: PgliteWorkerOptions) {
    this.#options = options;
  }

  static async start(options: PgliteWorkerOptions): Promise<PgliteWorkerClient> {
    const client = new PgliteWorkerClient(options);
    await client.#spawn();
    return client;
  }

  #spawn(): Promise<void> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        pglitePath: createRequire(import.meta.url).resolve("@electric-sql/pglite"),
        dataDir: this.#options.dataDir,
        // Only on the first start: a restarted worker reopens what the data directory holds.
        loadDataDir: this.generation === 0 ? this.#options.loadDataDir : undefined,
        preparedPattern: PREPARED_MARKER.source,
      },
    });
    this.generation++;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on("message", (msg: Reply) => {
        if ("type" in msg) {
          if (msg.type === "ready") {
            ready = true;
            this.#worker = worker;
            this.#restarts = 0;
            resolve();
          } else {
            reject(fromWire(msg.error));
            void worker.terminate();
          }
          return;
        }
        const waiter = this.#pending.get(msg.id);
        if (!waiter) return;
        this.#pending.delete(msg.id);
        if (msg.ok) {
          waiter.resolve({
            rows: msg.rows,
            ...(msg.affectedRows !== undefined
              ? { numAffectedRows: BigInt(msg.affectedRows) }
              : {}),
          });
        } else waiter.reject(fromWire(msg.error));
      });
      const lost = (why: Error) => {
        if (!ready) {
          reject(why);
          return;
        }
        if (this.#worker !== worker) return;
        this.#worker = null;
        const error = new DatabaseUnavailableError(`The PGlite worker stopped: ${why.message}`, {
          cause: why,
        });
        for (const waiter of this.#pending.values()) waiter.reject(error);
        this.#pending.clear();
        if (this.#closed) return;
        this.#options.onWorkerExit?.(error);
        this.#scheduleRestart();
      };
      worker.on("error", (e) => lost(e));
      worker.on("exit", (code) => lost(new Error(`exit code ${code}`)));
    });
  }

  #scheduleRestart() {
    const delay = Math.min(30_000, 500 * 2 ** this.#restarts++);
    const timer = setTimeout(() => {
      if (this.#closed || this.#worker) return;
      this.#spawn().catch((e: unknown) => {
        this.#options.onWorkerExit?.(e instanceof Error ? e : new Error(String(e)));
        this.#scheduleRestart();
      });
    }, delay);
    timer.unref();
  }

  #send(op: "query" | "close", sql?: string, params?: readonly unknown[]) {
    const worker = this.#worker;
    if (!worker || this.#closed) {
      return Promise.reject(
        new DatabaseUnavailableError(
          this.#closed ? "PGlite is closed" : "The PGlite worker is restarting",
        ),
      );
    }
    const id = this.#nextId++;
    return new Promise<QueryResult<unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, sql, params });
    });
  }

  query(sql: string, params: readonly unknown[]): Promise<QueryResult<unknown>> {
    return this.#send("query", sql, params);
  }

  /** Closes PGlite (its data is flushed) and ends the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const worker = this.#worker;
    try {
      if (worker) await this.#send("close");
    } finally {
      this.#closed = true;
      this.#worker = null;
      await worker?.terminate();
    }
  }

  /** Ends the worker abruptly, as a crash would (tests). */
  async crashForTests(): Promise<void> {
    await this.#worker?.terminate();
  }
}

class WorkerConnection implements DatabaseConnection {
  constructor(
    private readonly client: PgliteWorkerClient,
    private readonly generation: number,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.generation !== this.client.generation) {
      throw new DatabaseUnavailableError("The PGlite worker restarted during this transaction");
    }
    return (await this.client.query(query.sql, query.parameters)) as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("Streaming queries are not supported on PGlite; read in keyset pages.");
  }
}

/** How long background work waits at most while requests keep the session busy. */
export const BACKGROUND_MAX_WAIT_MS = 1_000;
/**
 * After a request's statement, how long background work lets the session idle in case the same
 * request sends its next statement (a page makes a few in a row; without this, each of them
 * could wait for a whole background statement).
 */
const ANTICIPATE_MS = 2;

type Waiter = { grant: () => void; since: number; background: boolean };

/**
 * Hands out PGlite's one session to one user at a time (a transaction holds it until COMMIT or
 * ROLLBACK). Requests are served first come first served; background work (inBackgroundLane:
 * import batches, export pages, reports) gets the session when no request waits, or when it has
 * waited BACKGROUND_MAX_WAIT_MS, so it is never starved and a request waits for at most one
 * background statement (or transaction) at a time.
 */
class PgliteWorkerDriver implements Driver {
  #held = false;
  #holderIsBackground = false;
  #requests: Waiter[] = [];
  #background: Waiter[] = [];

  constructor(private readonly client: PgliteWorkerClient) {
    trackLanes();
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const background = isBackgroundLane();
    if (this.#held || (background && this.#requests.length > 0)) {
      await new Promise<void>((grant) =>
        (background ? this.#background : this.#requests).push({
          grant,
          since: Date.now(),
          background,
        }),
      );
    } else {
      this.#held = true;
      this.#holderIsBackground = background;
    }
    return new WorkerConnection(this.client, this.client.generation);
  }

  async releaseConnection(): Promise<void> {
    this.#dispatch(!this.#holderIsBackground);
  }

  #dispatch(anticipate: boolean): void {
    const bg = this.#background[0];
    const overdue = bg !== undefined && Date.now() - bg.since >= BACKGROUND_MAX_WAIT_MS;
    const request = overdue ? undefined : this.#requests.shift();
    if (request) return this.#grant(request);
    if (bg) {
      if (anticipate && !overdue) {
        // The session stays "held" meanwhile: whoever asks now is queued and dispatched then.
        setTimeout(() => this.#dispatch(false), ANTICIPATE_MS);
        return;
      }
      return this.#grant(this.#background.shift()!);
    }
    const late = this.#requests.shift();
    if (late) return this.#grant(late);
    this.#held = false;
  }

  #grant(waiter: Waiter): void {
    this.#held = true;
    this.#holderIsBackground = waiter.background;
    waiter.grant();
  }

  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let begin = "begin";
    if (settings.isolationLevel || settings.accessMode) {
      begin = "start transaction";
      if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode) begin += ` ${settings.accessMode}`;
    }
    await conn.executeQuery(CompiledQuery.raw(begin));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw("rollback"));
  }

  async destroy(): Promise<void> {
    await this.client.close();
  }
}

/** A Kysely dialect for a PGlite that runs in a worker thread (see the module comment). */
export function pgliteWorkerDialect(client: PgliteWorkerClient): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PgliteWorkerDriver(client),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
  };
}
