import { useLocation } from "@remix-run/react";
import type { I18nPayload } from "~/i18n/i18n.shared";
import { useT } from "~/i18n/react";
import { PublicLayout, ui, type PublicBranding } from "~/ui/public-layout";

/**
 * The data of a page answered by the HTTP layer when the database failed the request
 * (app/http/database-faults.server.ts): 503 "try again" while the database is unavailable, or
 * 400 when it refused a value. Root and admin error boundaries render it.
 */
export type FaultPageData = {
  heedFault: "database_unavailable" | "invalid_input";
  audience: "public" | "admin";
  /** Recipient pages: the strings in the negotiated language. */
  i18n: I18nPayload | null;
  /** Recipient pages: the operator's branding, as last read. */
  branding: PublicBranding | null;
};

export function isFaultPageData(data: unknown): data is FaultPageData {
  return (
    typeof data === "object" &&
    data !== null &&
    "heedFault" in data &&
    (data.heedFault === "database_unavailable" || data.heedFault === "invalid_input")
  );
}

/** The recipient-facing page: localized, with the operator's branding. */
export function PublicFaultPage({ data }: { data: FaultPageData }) {
  const t = useT("common");
  const location = useLocation();
  const key = data.heedFault === "database_unavailable" ? "unavailable" : "badRequest";
  const branding: PublicBranding = data.branding ?? {
    organizationName: "Heed",
    logoUrl: "",
    accentColor: "#2563eb",
    privacyPolicyUrl: "",
    supportEmail: "",
  };
  return (
    <PublicLayout branding={branding}>
      <div className={ui.card} role="alert">
        <h1 className={ui.h1}>{t(`${key}.title`)}</h1>
        <p className="mt-3 text-slate-800">{t(`${key}.body`)}</p>
        {data.heedFault === "database_unavailable" ? (
          <p className="mt-6">
            <a className={ui.link} href={`${location.pathname}${location.search}`}>
              {t("unavailable.retry")}
            </a>
          </p>
        ) : null}
      </div>
    </PublicLayout>
  );
}
