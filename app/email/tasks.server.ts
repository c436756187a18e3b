import type { Logger } from "pino";
import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import { purgeExpiredMailtoCodes } from "~/email/mailto.server";
import { evaluateComplaintAlerts } from "~/reports/email.server";

/**
 * Background work of the email events, every minute in every server process
 * (app/server/background.server.ts): fire the complaint-rate alerts that are due (once per
 * campaign, whatever the number of servers: the unique key of report_alerts), and every tenth run
 * delete mailto codes whose links expired. A run still going when the next is due is skipped.
 */
export function createEmailTask() {
  let busy = false;
  let runs = 0;
  return {
    name: "email-events",
    everyMs: 60_000,
    async run(ctx: { db: Db; env: Env; logger: Logger }) {
      if (busy) return;
      busy = true;
      try {
        for (const a of await evaluateComplaintAlerts(ctx.db, { env: ctx.env })) {
          ctx.logger.warn(
            { campaign: a.campaign.key, complaints: a.complaints, rate: a.rate },
            "campaign complaint rate alert",
          );
        }
        if (runs++ % 10 === 0) await purgeExpiredMailtoCodes(ctx.db);
      } finally {
        busy = false;
      }
    },
  };
}
