import type { ReactNode } from "react";
import { useT } from "~/i18n/react";

/** What the public pages show of the operator's branding (settings → branding). */
export type PublicBranding = {
  organizationName: string;
  logoUrl: string;
  /** Applied by the root layout as CSS variables (see ~/ui/accent). */
  accentColor: string;
  privacyPolicyUrl: string;
  supportEmail: string;
};

/** Class names shared by the recipient pages (Tailwind; the accent comes from CSS variables). */
export const ui = {
  h1: "text-2xl font-semibold tracking-tight text-slate-900 sm:text-3xl",
  h2: "text-lg font-semibold text-slate-900",
  card: "rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-6",
  muted: "text-slate-600",
  link: "font-medium text-[rgb(var(--heed-accent-ink))] underline underline-offset-2 hover:no-underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-[rgb(var(--heed-accent-ink))]",
  primaryButton:
    "inline-flex min-h-11 w-full items-center justify-center rounded-lg bg-accent px-5 py-2.5 text-base font-semibold text-[rgb(var(--heed-on-accent))] shadow-sm hover:underline hover:shadow-md focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-[rgb(var(--heed-accent-ink))] sm:w-auto",
  secondaryButton:
    "inline-flex min-h-11 w-full items-center justify-center rounded-lg border border-slate-300 bg-white px-5 py-2.5 text-base font-medium text-slate-900 shadow-sm hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-[rgb(var(--heed-accent-ink))] sm:w-auto",
  dangerButton:
    "inline-flex min-h-11 w-full items-center justify-center rounded-lg border border-red-700 bg-white px-5 py-2.5 text-base font-semibold text-red-800 shadow-sm hover:bg-red-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-800 sm:w-auto",
  input:
    "mt-1 block w-full rounded-lg border border-slate-400 bg-white px-3 py-2 text-base text-slate-900 shadow-sm focus:border-[rgb(var(--heed-accent-ink))] focus:outline-none focus:ring-2 focus:ring-[rgb(var(--heed-accent-ink))]",
  radio:
    "h-5 w-5 shrink-0 border-slate-400 text-[rgb(var(--heed-accent-ink))] accent-[rgb(var(--heed-accent-ink))] focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-[rgb(var(--heed-accent-ink))]",
} as const;

/**
 * The frame of every recipient page: the operator's name or logo over an accent strip, the
 * content, and a footer with the privacy policy and the support address.
 */
export function PublicLayout({
  branding,
  children,
}: {
  branding: PublicBranding;
  children: ReactNode;
}) {
  const t = useT("common");
  const name = branding.organizationName;
  return (
    <div className="flex min-h-screen flex-col">
      <div className="h-1.5 bg-accent" />
      <header className="mx-auto flex w-full max-w-2xl items-center gap-3 px-4 pb-2 pt-6">
        {branding.logoUrl ? (
          <img
            src={branding.logoUrl}
            alt={t("layout.logoAlt", { organization: name })}
            referrerPolicy="no-referrer"
            className="h-10 w-auto max-w-[12rem] object-contain"
          />
        ) : null}
        <p className="text-lg font-semibold text-slate-900">{name}</p>
      </header>
      <main className="mx-auto w-full max-w-2xl flex-1 px-4 pb-12 pt-4">{children}</main>
      <footer className="border-t border-slate-200 bg-white">
        <div className="mx-auto flex w-full max-w-2xl flex-wrap gap-x-6 gap-y-2 px-4 py-5 text-sm text-slate-700">
          {branding.privacyPolicyUrl ? (
            <a className={ui.link} href={branding.privacyPolicyUrl} rel="noopener noreferrer">
              {t("layout.privacyPolicy")}
            </a>
          ) : null}
          {branding.supportEmail ? (
            <span>
              {t("layout.support")}{" "}
              <a className={ui.link} href={`mailto:${branding.supportEmail}`}>
                {branding.supportEmail}
              </a>
            </span>
          ) : null}
          <span className="text-slate-600">{t("poweredBy")}</span>
        </div>
      </footer>
    </div>
  );
}
