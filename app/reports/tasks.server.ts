import type { Logger } from "pino";
import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import { evaluateAlerts } from "~/reports/alerts.server";
import { runRollup } from "~/reports/rollup.server";

export const REPORTS_TASK_EVERY_MS = 60_000;

/**
 * The reports' background work, every minute in every server process (app/server/background.server.ts):
 * bring the rollups up to date, then fire the unsubscribe-rate alerts that are due. Both are safe
 * on several servers at once (an advisory lock for the rollup; the unique key of report_alerts).
 * A run still going when the next is due is not started twice.
 */
export function createReportsTask() {
  let busy = false;
  return {
    name: "reports",
    everyMs: REPORTS_TASK_EVERY_MS,
    async run(ctx: { db: Db; env: Env; logger: Logger }) {
      if (busy) return;
      busy = true;
      try {
        await runRollup(ctx.db);
        const fired = await evaluateAlerts(ctx.db, { env: ctx.env });
        for (const a of fired) {
          ctx.logger.warn(
            {
              campaign: a.campaign.key,
              rate: a.campaign.rate,
              triggers: a.campaign.triggers,
              email: a.emailOutboxId !== null,
              webhooks: a.webhookOutboxIds.length,
            },
            "campaign unsubscribe rate alert",
          );
        }
      } finally {
        busy = false;
      }
    },
  };
}
