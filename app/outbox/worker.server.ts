import { sql, type UpdateObject } from "kysely";
import type { Db } from "~/db/db.server";
import type { Database } from "~/db/schema";
import { getEnv } from "~/env.server";
import { expireClaimedMessage, expireOverdueMessages, type OutboxKind } from "./outbox.server";
import { TRANSPORTS, type TransportMap } from "./transports.server";
import type { DeliveryResult, OutboxDelivery, TransportContext } from "./types";

/**
 * The outbox worker: runs in every server process (a background task) and delivers what the
 * outbox holds.
 *
 * Why our own ~200 lines rather than a job library: the well-kept Postgres job queues
 * (graphile-worker, pg-boss) need LISTEN/NOTIFY, advisory locks, several connections or their
 * own schema migrations, and none of them runs on PGlite, which is Heed's zero-setup database.
 * The outbox is one table written in the causing transaction, so a small poller is enough:
 *
 * 1. Claim: in one short transaction, take due rows with `FOR UPDATE SKIP LOCKED` (several
 *    servers never take the same row), mark them `sending` with a lease (`locked_until`) and
 *    count the attempt.
 * 2. Deliver outside any transaction (a slow SMTP server never holds a database lock or, on
 *    PGlite, the only connection).
 * 3. Finish: `sent`, or back to `pending` with exponential backoff and jitter (or at the time the
 *    transport asks for: webhooks follow their own published schedule), or `dead` after
 *    max_attempts (or on a permanent failure). A transport that sent nothing (the receiver asked
 *    for a pause) gives the attempt back. The finishing update is fenced on the attempt number,
 *    so a worker whose lease ran out cannot overwrite the row's newer state.
 *
 * A worker that crashes mid-delivery leaves `sending` rows whose lease expires; they are claimed
 * again (the lost attempt counts), so a message is delivered at least once. Admins see `dead`
 * messages and retry them (listOutbox / retryOutboxMessage in outbox.server.ts).
 */

export type RetryPolicy = { baseMs: number; maxMs: number };

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 60_000, maxMs: 6 * 60 * 60_000 };
/** Longer than any transport may take (SMTP gives up after about a minute). */
export const DEFAULT_LEASE_MS = 5 * 60_000;

export type WorkerOptions = {
  transports?: TransportMap;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** Deliveries in flight at once per worker. */
  concurrency?: number;
  leaseMs?: number;
  retry?: RetryPolicy;
  /** Batches per run, so one run drains a backlog but never runs forever. */
  maxBatches?: number;
  /** For tests: the jitter source. */
  random?: () => number;
  /** The clock that decides what is due and when to retry (tests drive it). */
  now?: () => Date;
};

export type RunStats = {
  claimed: number;
  sent: number;
  retried: number;
  dead: number;
  /** Put back without an attempt (the transport sent nothing). */
  deferred: number;
};

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed attempts: exponential, capped,
 * with "equal jitter" (half fixed, half random) so that many failures do not retry in lockstep.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy = DEFAULT_RETRY,
  random = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

type Claimed = OutboxDelivery & { deliverBy: Date | null };

/** Claims up to `limit` due messages for this worker (see the module comment). */
export async function claimDueMessages(
  db: Db,
  options: { limit: number; leaseMs: number; now?: Date },
): Promise<Claimed[]> {
  const leaseSeconds = options.leaseMs / 1000;
  // The database's clock unless the caller drives its own (tests): one clock for every server.
  const now = options.now ? sql`${options.now}::timestamptz` : sql`now()`;
  return db.transaction().execute(async (trx) => {
    // A delivery whose worker died on its last allowed attempt: dead, not retried forever.
    await sql`
      update outbox set status = 'dead', locked_until = null,
        last_error = left(coalesce(last_error || ' | ', '') || 'attempt ' || attempts || ': delivery did not finish (worker stopped, lease expired)', 2000)
      where id in (
        select id from outbox
        where status = 'sending' and locked_until <= ${now} and attempts >= max_attempts
        for update skip locked
      )`.execute(trx);
    await expireOverdueMessages(trx);
    const rows = await sql<{
      id: number;
      kind: OutboxKind;
      recipient: string;
      payload: Record<string, unknown>;
      attempts: number;
      max_attempts: number;
      uid: string;
      deliver_by: Date | string | null;
    }>`
      with due as (
        select id from outbox
        where status in ('pending', 'sending') and next_attempt_at <= ${now}
          and (status = 'pending' or locked_until <= ${now})
          and (deliver_by is null or deliver_by > now())
        order by next_attempt_at, id
        limit ${options.limit}
        for update skip locked
      )
      update outbox o set status = 'sending', attempts = o.attempts + 1,
        locked_until = ${now} + make_interval(secs => ${leaseSeconds})
      from due where o.id = due.id
      returning o.id, o.kind, o.recipient, o.payload, o.attempts, o.max_attempts, o.uid, o.deliver_by`.execute(
      trx,
    );
    return rows.rows
      .map((r) => ({
        id: Number(r.id),
        kind: r.kind,
        recipient: r.recipient,
        payload:
          typeof r.payload === "string"
            ? (JSON.parse(r.payload) as Record<string, unknown>)
            : r.payload,
        attempts: r.attempts - 1,
        maxAttempts: r.max_attempts,
        uid: r.uid,
        deliverBy: r.deliver_by ? new Date(r.deliver_by) : null,
      }))
      .sort((a, b) => a.id - b.id);
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function deliverOne(
  msg: Claimed,
  transports: TransportMap,
  ctx: TransportContext,
  leaseMs: number,
): Promise<DeliveryResult> {
  const transport = transports[msg.kind];
  if (!transport) {
    return {
      ok: false,
      error: `no transport for outbox kind "${msg.kind}" (app/outbox/transports.server.ts)`,
    };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    // Never outlive the lease: past it another worker may claim the message again.
    const timeout = new Promise<DeliveryResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, error: "delivery timed out" }),
        Math.max(1000, leaseMs - 10_000),
      );
    });
    return await Promise.race([transport(msg, ctx), timeout]);
  } catch (e) {
    return { ok: false, error: errorText(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Records the outcome of attempt `msg.attempts + 1`; ignored if the row moved on meanwhile. */
async function finish(
  db: Db,
  msg: Claimed,
  result: DeliveryResult,
  retry: RetryPolicy,
  random: () => number,
  now: Date,
): Promise<"sent" | "retried" | "dead" | "deferred" | "stale"> {
  const attempt = msg.attempts + 1;
  const update = async (values: UpdateObject<Database, "outbox">) => {
    const r = await db
      .updateTable("outbox")
      .set(values)
      .where("id", "=", msg.id)
      .where("status", "=", "sending")
      .where("attempts", "=", attempt)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  };
  if (result.ok) {
    const done = await update({
      status: "sent",
      sent_at: sql<Date>`now()`,
      locked_until: null,
      last_error: null,
    });
    return done ? "sent" : "stale";
  }
  if (result.notAttempted && result.retryAt) {
    const done = await update({
      status: "pending",
      attempts: msg.attempts,
      locked_until: null,
      next_attempt_at: result.retryAt,
    });
    return done ? "deferred" : "stale";
  }
  const error = `attempt ${attempt}: ${result.error}`.slice(0, 2000);
  if (result.permanent || attempt >= msg.maxAttempts) {
    const done = await update({ status: "dead", locked_until: null, last_error: error });
    return done ? "dead" : "stale";
  }
  const done = await update({
    status: "pending",
    locked_until: null,
    last_error: error,
    next_attempt_at:
      result.retryAt ?? new Date(now.getTime() + retryDelayMs(attempt, retry, random)),
  });
  return done ? "retried" : "stale";
}

/** Claims and delivers due messages until none is due (or maxBatches); returns what happened. */
export async function runOutboxOnce(
  ctx: TransportContext,
  options: WorkerOptions = {},
): Promise<RunStats> {
  const transports = options.transports ?? TRANSPORTS;
  const batchSize = options.batchSize ?? 20;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const retry = options.retry ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const driven = options.now ?? ctx.now;
  const clock = driven ?? (() => new Date());
  const tctx: TransportContext = { ...ctx, now: clock };
  const stats: RunStats = { claimed: 0, sent: 0, retried: 0, dead: 0, deferred: 0 };
  for (let batch = 0; batch < (options.maxBatches ?? 10); batch++) {
    const claimed = await claimDueMessages(ctx.db, { limit: batchSize, leaseMs, now: driven?.() });
    if (claimed.length === 0) break;
    stats.claimed += claimed.length;
    const queue = [...claimed];
    const lane = async () => {
      for (let msg = queue.shift(); msg; msg = queue.shift()) {
        // Past its deliver-by time while it waited in this batch: dropped, never sent late.
        if (msg.deliverBy && (await expireClaimedMessage(ctx.db, msg.id, msg.deliverBy))) continue;
        const result = await deliverOne(msg, transports, tctx, leaseMs);
        const outcome = await finish(ctx.db, msg, result, retry, random, clock());
        if (outcome === "stale") continue;
        stats[outcome] += 1;
        if (outcome === "dead") {
          ctx.logger.warn(
            {
              outboxId: msg.id,
              kind: msg.kind,
              attempts: msg.attempts + 1,
              error: result.ok ? undefined : result.error,
            },
            "outbox message is dead",
          );
        } else if (outcome === "retried") {
          ctx.logger.info(
            {
              outboxId: msg.id,
              kind: msg.kind,
              attempt: msg.attempts + 1,
              error: result.ok ? undefined : result.error,
            },
            "outbox delivery failed; will retry",
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    if (claimed.length < batchSize) break;
  }
  return stats;
}

/** Sent messages are kept this long (the development outbox shows them), then deleted. */
export const SENT_RETENTION_DAYS = 30;

export async function purgeSentMessages(
  db: Db,
  olderThanDays = SENT_RETENTION_DAYS,
): Promise<number> {
  const r = await db
    .deleteFrom("outbox")
    .where("status", "=", "sent")
    .where("sent_at", "<", sql<Date>`now() - make_interval(days => ${olderThanDays})`)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * The background task (app/server/background.server.ts). Polls every OUTBOX_POLL_MS; a run that
 * is still going when the next tick comes is not started twice.
 */
export function createOutboxTask(options: WorkerOptions = {}) {
  let busy = false;
  let lastPurge = 0;
  return {
    name: "outbox",
    get everyMs() {
      return getEnv().OUTBOX_POLL_MS;
    },
    async run(ctx: TransportContext) {
      if (busy) return;
      busy = true;
      try {
        await runOutboxOnce(ctx, options);
        if (Date.now() - lastPurge > 60 * 60_000) {
          lastPurge = Date.now();
          await purgeSentMessages(ctx.db);
        }
      } finally {
        busy = false;
      }
    },
  };
}
