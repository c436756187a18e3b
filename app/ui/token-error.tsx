import { PublicLayout, ui, type PublicBranding } from "~/ui/public-layout";
import { useT } from "~/i18n/react";

export type TokenErrorReason = "invalid" | "expired" | "wrong_purpose" | "used";

/**
 * The friendly page for a bad, tampered, expired, wrong-purpose or already-used link (docs/links.md):
 * says nothing changed and offers a fresh link by email or SMS (a plain form posting `email`, an
 * email address or a phone number, to /manage, so it works without JavaScript). Strings come from the `common` namespace, which
 * every page payload includes (`i18nPayload` in ~/i18n/i18n.server).
 */
export function TokenErrorPage({
  reason,
  branding,
  manageAction = "/manage",
}: {
  reason: TokenErrorReason;
  branding: PublicBranding;
  manageAction?: string;
}) {
  const t = useT("common");
  return (
    <PublicLayout branding={branding}>
      <div className={ui.card}>
        <h1 className={ui.h1}>{t(`tokenError.${reason}.title`)}</h1>
        <p className="mt-3 text-slate-700">{t(`tokenError.${reason}.body`)}</p>
      </div>
      <section aria-labelledby="new-link-title" className={`${ui.card} mt-6`}>
        <h2 id="new-link-title" className={ui.h2}>
          {t("tokenError.newLinkTitle")}
        </h2>
        <p className="mt-2 text-slate-700">{t("tokenError.newLinkIntro")}</p>
        <form method="post" action={manageAction} className="mt-4 space-y-4">
          <div>
            <label htmlFor="new-link-email" className="block font-medium text-slate-900">
              {t("tokenError.emailLabel")}
            </label>
            <input
              id="new-link-email"
              name="email"
              type="text"
              required
              maxLength={320}
              autoComplete="email"
              autoCapitalize="none"
              spellCheck={false}
              className={ui.input}
            />
          </div>
          <button type="submit" className={ui.primaryButton}>
            {t("tokenError.send")}
          </button>
        </form>
      </section>
    </PublicLayout>
  );
}
