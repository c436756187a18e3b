import { inRequestLane } from "~/db/priority.server";

/**
 * Group commit for a hot single-row write (docs/decisions/0107): callers submit one item each
 * and get a promise; items that arrive while the database is busy with earlier batches are
 * written together, in one statement, by the next batch.
 *
 * - An idle server adds no latency: while fewer than `maxInFlight` batches run, a submitted item
 *   is flushed at once (a lone item is a batch of one). Only under load do items wait, and then
 *   only for a batch already running, which they could not have overtaken anyway (the pool or
 *   PGlite's one session would have queued them).
 * - A caller's promise settles only after its batch's statement finished: resolved when it
 *   committed, never before (no false 200).
 * - When a batch of several fails, each of its items runs again alone through `one` (the
 *   existing single statement): one bad item, or a deadlock victim, cannot fail the others, and
 *   an error that belongs to an item (the database unavailable, bad input) reaches its caller as
 *   it would have without batching. The writes are idempotent, so running again after a batch
 *   that failed changes nothing twice.
 */
export type CoalescerOptions = {
  /** Batches running at once; more items wait for the next flush. */
  maxInFlight: number;
  /** Items per batch at most. */
  maxBatch: number;
};

type Waiting<I, O> = { item: I; resolve: (o: O) => void; reject: (e: unknown) => void };

export class Coalescer<I, O> {
  private queue: Waiting<I, O>[] = [];
  private inFlight = 0;

  constructor(
    /** One result per item, in the items' order. */
    private readonly many: (items: I[]) => Promise<O[]>,
    /** One item alone: for a batch of one, and for each item of a batch that failed. */
    private readonly one: (item: I) => Promise<O>,
    private readonly options: CoalescerOptions,
  ) {}

  /** Batches running now (for tests). */
  get running(): number {
    return this.inFlight;
  }

  /** Items waiting for a flush (for tests). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      // A batch serves every caller in it: it runs in the request lane, not in the lane of the
      // caller that happened to start it (PGlite lets request-lane statements go first).
      void inRequestLane(() => this.flush(batch)).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Waiting<I, O>[]): Promise<void> {
    if (batch.length === 1) {
      const w = batch[0]!;
      await this.one(w.item).then(w.resolve, w.reject);
      return;
    }
    let results: O[];
    try {
      results = await this.many(batch.map((w) => w.item));
    } catch {
      // Each item alone: its own result or its own error.
      await Promise.all(batch.map((w) => this.one(w.item).then(w.resolve, w.reject)));
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i]!));
  }
}

/**
 * One coalescer per key object (a database handle), so that two databases (tests open many)
 * never share a batch, and a closed handle's coalescer goes with it.
 */
export function coalescerPer<K extends object, I, O>(
  make: (key: K) => Coalescer<I, O>,
): (key: K) => Coalescer<I, O> {
  const map = new WeakMap<K, Coalescer<I, O>>();
  return (key) => {
    let c = map.get(key);
    if (!c) map.set(key, (c = make(key)));
    return c;
  };
}
