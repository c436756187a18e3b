import type { Logger } from "pino";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import { createOutboxTask } from "~/outbox/worker.server";
import { createReportsTask } from "~/reports/tasks.server";
import { createImportTask } from "~/imports/task.server";
import { createEmailTask } from "~/email/tasks.server";

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
];

/** Starts every task; the returned function stops them and waits for runs in progress. */
export function startBackgroundWork(
  ctx: BackgroundContext,
  tasks: Task[] = TASKS,
): () => Promise<void> {
  let stopped = false;
  const running = new Set<Promise<void>>();
  const timers = tasks.map((task) => {
    const tick = () => {
      if (stopped) return;
      const p = task
        .run(ctx)
        .catch((err: unknown) =>
          ctx.logger.error({ err, task: task.name }, "background task failed"),
        )
        .finally(() => running.delete(p));
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
