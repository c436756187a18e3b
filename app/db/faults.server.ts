/**
 * What a database failure means for the caller, in one place, for both databases.
 *
 * - "unavailable": the database cannot be reached right now (PostgreSQL restarting, failing over,
 *   a terminated backend, a refused or timed-out connection, a pool that is full or ended, a
 *   closed or crashed PGlite). Nothing was decided: the caller answers 503 with Retry-After
 *   and tries again later; background work keeps its state and retries.
 * - "invalid_input": PostgreSQL refused a value (class 22 data exceptions: a NUL byte, a number
 *   out of range, text that cannot be cast, a value too long). That is the request's fault: 400.
 *
 * Code that talks to the database through other paths (a fast path outside Remix, a CLI) uses
 * `databaseFault(error)` the same way the HTTP layer does.
 */

/** Seconds a client should wait before retrying a request that met an unavailable database. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The database cannot be reached right now; nothing was decided. */
export class DatabaseUnavailableError extends Error {
  readonly code = "database_unavailable";
  readonly retryAfterSeconds = DATABASE_RETRY_AFTER_SECONDS;
  constructor(message = "The database is unavailable.", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

export type DatabaseFault =
  | { kind: "unavailable"; retryAfterSeconds: number; error: DatabaseUnavailableError }
  | { kind: "invalid_input"; sqlState: string; message: string };

// SQLSTATE classes and codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
const UNAVAILABLE_CLASSES = ["08", "53"]; // connection exception; insufficient resources
const UNAVAILABLE_STATES = new Set([
  "57P01", // admin_shutdown (pg_terminate_backend, a fast shutdown)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "57P04", // database_dropped
  "57P05", // idle_session_timeout
]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);
// node-postgres, pg-pool, Kysely and PGlite say these in words, without a code.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // pg: the socket closed (terminated backend, server gone)
  /timeout exceeded when trying to connect/, // pg-pool: connectionTimeoutMillis
  /Connection timeout/i,
  /is not queryable/, // pg: a client whose connection already failed
  /Cannot use a pool after calling end on the pool/, // pg-pool: closed at shutdown
  /driver has already been destroyed/, // Kysely: the handle was closed
  /^PGlite is closed/, // PGlite: a closed instance
  /Query read timeout/, // pg: query_timeout
];

type ErrorLike = { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };

/** The error and what it wraps (cause chains, AggregateError from multi-address connects). */
function* chain(error: unknown, depth = 0): Generator<ErrorLike> {
  if (depth > 5 || error === null || typeof error !== "object") return;
  const e = error as ErrorLike;
  yield e;
  if (e.cause !== undefined) yield* chain(e.cause, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, depth + 1);
}

function sqlState(e: ErrorLike): string | null {
  return typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null;
}

function isUnavailable(e: ErrorLike): boolean {
  if (e instanceof DatabaseUnavailableError) return true;
  const code = typeof e.code === "string" ? e.code : null;
  const state = sqlState(e);
  if (state && (UNAVAILABLE_STATES.has(state) || UNAVAILABLE_CLASSES.includes(state.slice(0, 2))))
    return true;
  if (code && NETWORK_CODES.has(code)) return true;
  const message = typeof e.message === "string" ? e.message : "";
  return UNAVAILABLE_MESSAGES.some((re) => re.test(message));
}

function isInvalidInput(e: ErrorLike): string | null {
  const state = sqlState(e);
  if (!state) return null;
  if (state.startsWith("22")) return state;
  // "index row requires N bytes, maximum size is 8191": a huge value in an indexed column.
  if (state === "54000" && typeof e.message === "string" && /index row/.test(e.message))
    return state;
  return null;
}

/** What a thrown error means for the caller, or null when it is not a database fault we know. */
export function databaseFault(error: unknown): DatabaseFault | null {
  for (const e of chain(error)) {
    if (isUnavailable(e)) {
      const unavailable =
        error instanceof DatabaseUnavailableError
          ? error
          : new DatabaseUnavailableError(
              `The database is unavailable: ${typeof e.message === "string" ? e.message : "connection failed"}`,
              { cause: error },
            );
      return {
        kind: "unavailable",
        retryAfterSeconds: unavailable.retryAfterSeconds,
        error: unavailable,
      };
    }
  }
  for (const e of chain(error)) {
    const state = isInvalidInput(e);
    if (state) {
      return {
        kind: "invalid_input",
        sqlState: state,
        message: typeof e.message === "string" ? e.message : "invalid value",
      };
    }
  }
  return null;
}

/** True when the error means "the database cannot be reached right now" (see DatabaseFault). */
export function isDatabaseUnavailable(error: unknown): boolean {
  return databaseFault(error)?.kind === "unavailable";
}

/**
 * Logs a recurring failure once per outage instead of once per attempt: the first failure is
 * logged with its error, the rest are counted, and the recovery is logged with the count.
 */
type OutageLogger = Record<"info" | "warn" | "error", (obj: object, msg: string) => void>;

export function outageLog(logger: OutageLogger, what: Record<string, unknown>) {
  let since: number | null = null;
  let failures = 0;
  return {
    get down() {
      return since !== null;
    },
    failed(
      err: unknown,
      message = "database unavailable; will retry",
      level: "warn" | "error" = "warn",
    ) {
      failures++;
      if (since !== null) return;
      since = Date.now();
      logger[level]({ ...what, err }, message);
    },
    recovered(message = "database available again") {
      if (since === null) return;
      logger.info({ ...what, failures, downMs: Date.now() - since }, message);
      since = null;
      failures = 0;
    },
  };
}

/**
 * Whether the database answered lately: every query reports here (db.server's Kysely log hook),
 * and so do failed connections and the HTTP layer's faults. Listeners hear each change once,
 * so an outage is logged once however many requests and tasks meet it.
 */
export class DatabaseHealth {
  #available = true;
  #since = Date.now();
  #failures = 0;
  #listeners = new Set<(change: HealthChange) => void>();

  get available(): boolean {
    return this.#available;
  }

  /** A query or connection failed; only "unavailable" faults change the state. */
  failed(error: unknown): void {
    if (!isDatabaseUnavailable(error)) return;
    this.#failures++;
    if (!this.#available) return;
    this.#available = false;
    this.#since = Date.now();
    this.#emit({ available: false, error });
  }

  /** A query succeeded. */
  succeeded(): void {
    if (this.#available) return;
    const change: HealthChange = {
      available: true,
      downMs: Date.now() - this.#since,
      failures: this.#failures,
    };
    this.#available = true;
    this.#since = Date.now();
    this.#failures = 0;
    this.#emit(change);
  }

  onChange(listener: (change: HealthChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: HealthChange) {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        /* a listener's problem is not the database's */
      }
    }
  }
}

export type HealthChange =
  { available: false; error: unknown } | { available: true; downMs: number; failures: number };
