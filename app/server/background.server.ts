import type { Logger } from "pino";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import { isDatabaseUnavailable, outageLog } from "~/db/faults.server";
import { inBackgroundLane } from "~/db/priority.server";
import type { Env } from "~/env.server";
import { createOutboxTask } from "~/outbox/worker.server";
import { createReportsTask } from "~/reports/tasks.server";
import { createImportTask } from "~/imports/task.server";
import { createEmailTask } from "~/email/tasks.server";
import { createLedgerCheckpoint } from "~/consent/chain.server";
import { createSourcesTask } from "~/sources/runner.server";
import { createAnalyzeTask } from "~/db/analyze.server";

export type BackgroundContext = { db: Db; dbKind: "pglite" | "postgres"; env: Env; logger: Logger };

type Task = { name: string; everyMs: number; run: (ctx: BackgroundContext) => Promise<void> };

/**
 * Periodic work inside each server process. Tasks must be safe to run on several servers at once
 * (they are: set-based deletes, and the outbox worker claims rows with FOR UPDATE SKIP LOCKED).
 */
const TASKS: Task[] = [
  {
    name: "purge-expired",
    everyMs: 10 * 60_000,
    async run({ db }) {
      await db
        .deleteFrom("admin_sessions")
        .where("expires_at", "<", sql<Date>`now()`)
        .execute();
      await db
        .deleteFrom("rate_limits")
        .where("window_start", "<", sql<Date>`now() - interval '1 day'`)
        .execute();
      // The admin area shows recent webhook attempts; older ones are noise.
      await sql`delete from webhook_deliveries where created_at < now() - interval '30 days'`.execute(
        db,
      );
    },
  },
  // Delivers mail, SMS and webhooks from the outbox (app/outbox/worker.server.ts).
  createOutboxTask(),
  // Report rollups and unsubscribe-rate alerts (app/reports/tasks.server.ts).
  createReportsTask(),
  // Bulk imports of suppressions, resumable after a crash (app/imports/jobs.server.ts).
  createImportTask(),
  // Complaint-rate alerts and expired mailto codes (app/email/tasks.server.ts).
  createEmailTask(),
  {
    // Seals the ledger rows written since the last checkpoint (docs/consent.md#proof-of-consent):
    // deleting the last rows of a chain is caught from the next checkpoint on.
    name: "ledger-checkpoint",
    everyMs: 15 * 60_000,
    async run({ db }) {
      await createLedgerCheckpoint(db);
    },
  },
  {
    // Recorded sends older than the longest frequency window cap nothing any more.
    name: "purge-send-log",
    everyMs: 60 * 60_000,
    async run({ db }) {
      await sql`delete from send_log where sent_at < now() - interval '367 days'`.execute(db);
    },
  },
  // Scheduled data sources: fetch, then queue an import (app/sources/runner.server.ts).
  createSourcesTask(),
  // PGlite has no autovacuum: ANALYZE of tables that doubled since their last one, so prepared
  // statements do not keep plans made for a table a fraction of its size (app/db/analyze.server.ts).
  createAnalyzeTask(),
];

/** The longest pause between two attempts of a task that keeps failing. */
export const MAX_BACKOFF_MS = 30_000;

/**
 * Starts every task; the returned function stops them and waits for runs in progress.
 *
 * A task that fails (the database is unavailable, most often) is retried with exponential
 * backoff (its period doubled per failure, at most MAX_BACKOFF_MS) and logged once per streak of
 * failures, not once per attempt; its recovery is logged with the number of failed attempts.
 * Nothing a task throws ends the process. A run still going when its next tick comes is not
 * started twice.
 */
export function startBackgroundWork(
  ctx: BackgroundContext,
  tasks: Task[] = TASKS,
  options: { maxBackoffMs?: number } = {},
): () => Promise<void> {
  const maxBackoffMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
  let stopped = false;
  const running = new Set<Promise<void>>();
  const timers = tasks.map((task) => {
    const log = outageLog(ctx.logger, { task: task.name });
    let inFlight = false;
    let failures = 0;
    let notBefore = 0;
    const tick = () => {
      if (stopped || inFlight || Date.now() < notBefore) return;
      inFlight = true;
      const p = inBackgroundLane(() => task.run(ctx))
        .then(
          () => {
            failures = 0;
            notBefore = 0;
            log.recovered("background task runs again");
          },
          (err: unknown) => {
            failures++;
            const backoff = Math.min(maxBackoffMs, task.everyMs * 2 ** (failures - 1));
            notBefore = Date.now() + backoff / 2 + Math.random() * (backoff / 2);
            if (isDatabaseUnavailable(err))
              log.failed(err, "background task: database unavailable; retrying with backoff");
            else log.failed(err, "background task failed; retrying with backoff", "error");
          },
        )
        .finally(() => {
          inFlight = false;
          running.delete(p);
        });
      running.add(p);
    };
    const timer = setInterval(tick, task.everyMs);
    timer.unref();
    return timer;
  });
  return async () => {
    stopped = true;
    timers.forEach(clearInterval);
    await Promise.all(running);
  };
}
