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
