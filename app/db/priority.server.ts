import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Work that yields to requests. Background tasks (outbox, imports, reports, purges) and bulk
 * reads (export pages) run "in the background lane": where the database has one session (PGlite),
 * a waiting request gets it before them, so a recipient's page does not queue behind an import
 * batch for each of its queries (see PgliteWorkerDriver). On PostgreSQL each has its own
 * connection and the lane changes nothing.
 */
const lane = new AsyncLocalStorage<"background">();

/**
 * The lane is tracked only once a driver that reads it exists (PGlite's worker driver calls
 * `trackLanes`). Tracking is not free: the first `AsyncLocalStorage.run` turns on Node's promise
 * hooks for the whole process, which then run on every promise of every request. On PostgreSQL,
 * where the lane changes nothing, that cost was about a sixth of a one-click POST's CPU
 * (docs/decisions/0112).
 */
let tracking = false;

export function trackLanes(): void {
  tracking = true;
}

export function inBackgroundLane<T>(fn: () => Promise<T>): Promise<T> {
  return tracking ? lane.run("background", fn) : fn();
}

/**
 * Outside the background lane, whoever called: for work done on behalf of many callers (a group
 * commit's batch, docs/decisions/0107), which would otherwise keep the lane of whichever caller
 * started it, and every batch chained after it.
 */
export function inRequestLane<T>(fn: () => Promise<T>): Promise<T> {
  return tracking ? lane.exit(fn) : fn();
}

export function isBackgroundLane(): boolean {
  return lane.getStore() === "background";
}

/**
 * Rows of background CPU work between two turns of the event loop (see `nextTurn`): a few
 * milliseconds of an import's parsing or hashing.
 */
export const SLICE_ROWS = 500;

/**
 * The event loop's next turn, for CPU work of the background lane done in slices. An import
 * prepares each batch on the thread that answers requests (parsing, normalizing, the keyed
 * hashes, the chain hashes); done in one go, a batch of 10,000 rows held that thread for
 * 50–280 ms and every request waited behind it (decisions/0113). Its loops await this every
 * SLICE_ROWS rows: the I/O that arrived meanwhile (requests, and their database answers) is
 * handled before the loop goes on (setImmediate runs after the event loop's poll for I/O). Costs a
 * few microseconds when nothing waits.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
