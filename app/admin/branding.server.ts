import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { getMailSettings, saveMailSettings, type MailSettings } from "~/mail/notices.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { storeLogo } from "~/settings/logo.server";
import { getBranding, saveBranding, type Branding } from "~/settings/settings.server";

/**
 * The branding page's save: the branding and the mail settings it shows, with one audit row of
 * what changed (none when nothing did), in one transaction. This server's recipient pages show the
 * change at once; the others within their cache's few seconds (app/recipient/cache.server.ts).
 * The uploaded logo is kept as it is (it has its own upload: saveBrandingLogo).
 */
export async function saveBrandingSettings(
  db: Db,
  input: { branding: Omit<Branding, "logoFile">; mail: MailSettings },
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const before = await getBranding(trx);
    const mailBefore = await getMailSettings(trx);
    const branding: Branding = { ...input.branding, logoFile: before.logoFile };
    await saveBranding(trx, branding);
    await saveMailSettings(trx, input.mail);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of Object.keys(branding) as (keyof Branding)[]) {
      if (before[key] !== branding[key]) {
        changes[key] = { from: before[key], to: branding[key] };
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

/**
 * An uploaded logo becomes the branding's logo (it wins over the logo URL), or `null` removes it:
 * stored (app/settings/logo.server.ts, which checks the bytes and throws LogoError), pointed to
 * and audited (`branding.logo_upload` / `branding.logo_remove`) in one transaction.
 */
export async function saveBrandingLogo(
  db: Db,
  bytes: Uint8Array | null,
  by: AuditContext,
): Promise<{ logoFile: string; changed: boolean }> {
  const result = await inTransaction(db, async (trx) => {
    const before = await getBranding(trx);
    const stored = bytes
      ? await storeLogo(trx, bytes, by.actor.label ?? by.actor.id ?? null)
      : null;
    const logoFile = stored?.name ?? "";
    if (logoFile === before.logoFile) return { logoFile, changed: false };
    await saveBranding(trx, { ...before, logoFile });
    await audit(trx, {
      ...by,
      action: stored ? "branding.logo_upload" : "branding.logo_remove",
      target: { type: "settings", id: "branding" },
      details: {
        changes: { logoFile: { from: before.logoFile, to: logoFile } },
        ...(stored ? { contentType: stored.contentType, size: stored.size } : {}),
      },
    });
    return { logoFile, changed: true };
  });
  clearRecipientCache();
  return result;
}
