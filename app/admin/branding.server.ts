import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { getMailSettings, saveMailSettings, type MailSettings } from "~/mail/notices.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { getBranding, saveBranding, type Branding } from "~/settings/settings.server";

/**
 * The branding page's save: the branding and the mail settings it shows, with one audit row of
 * what changed (none when nothing did), in one transaction. This server's recipient pages show the
 * change at once; the others within their cache's few seconds (app/recipient/cache.server.ts).
 */
export async function saveBrandingSettings(
  db: Db,
  input: { branding: Branding; mail: MailSettings },
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const before = await getBranding(trx);
    const mailBefore = await getMailSettings(trx);
    await saveBranding(trx, input.branding);
    await saveMailSettings(trx, input.mail);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of Object.keys(input.branding) as (keyof Branding)[]) {
      if (before[key] !== input.branding[key]) {
        changes[key] = { from: before[key], to: input.branding[key] };
      }
    }
    for (const key of Object.keys(input.mail) as (keyof MailSettings)[]) {
      if (mailBefore[key] !== input.mail[key]) {
        changes[key] = { from: mailBefore[key], to: input.mail[key] };
      }
    }
    if (Object.keys(changes).length > 0) {
      await audit(trx, {
        ...by,
        action: "branding.update",
        target: { type: "settings", id: "branding" },
        details: { changes },
      });
    }
  });
  clearRecipientCache();
}
