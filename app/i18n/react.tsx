import { createContext, useContext, useMemo, type ReactNode } from "react";
import { useMatches } from "@remix-run/react";
import { DEFAULT_LOCALE, type Locale } from "./config";
import { createI18n, type I18nPayload, type TFunction } from "./i18n.shared";
import enCommon from "./locales/en/common.json";

/**
 * Translations in React components. A page's loader returns `i18n: i18nPayload(locale, [ns])`
 * (from ~/i18n/i18n.server; `publicPageData` in ~/recipient/page.server does it for recipient
 * pages); the root layout finds it and provides it; components call `useT("recipient")` and
 * `useLocale()`. Without a payload, English `common` strings are used.
 */
type Ctx = { locale: Locale; i18n: ReturnType<typeof createI18n> };

const fallback: I18nPayload = { locale: DEFAULT_LOCALE, resources: { common: enCommon } };
const I18nContext = createContext<Ctx | null>(null);

// One instance per locale and set of namespaces: translations are static, and rendering a page
// (a hot path on the server) should not build a new i18next instance each time.
const instances = new Map<string, Ctx>();

function contextFor(payload: I18nPayload): Ctx {
  // A namespace may be given in part (the admin layout sends only `recipient.reasons`), so the key
  // counts each namespace's top-level keys too.
  const key = `${payload.locale}|${Object.entries(payload.resources)
    .map(([ns, strings]) => `${ns}:${Object.keys(strings).length}`)
    .sort()
    .join(",")}`;
  let ctx = instances.get(key);
  if (!ctx) {
    ctx = { locale: payload.locale, i18n: createI18n(payload) };
    instances.set(key, ctx);
  }
  return ctx;
}

export function I18nProvider({
  value,
  children,
}: {
  value: I18nPayload | null;
  children: ReactNode;
}) {
  const ctx = contextFor(value ?? fallback);
  return <I18nContext.Provider value={ctx}>{children}</I18nContext.Provider>;
}

function useI18nContext(): Ctx {
  // Outside a provider (the root layout always provides one): English common strings.
  return useContext(I18nContext) ?? contextFor(fallback);
}

export function useT(ns = "common"): TFunction {
  const { i18n, locale } = useI18nContext();
  return useMemo(() => i18n.getFixedT(locale, ns), [i18n, locale, ns]);
}

export function useLocale(): Locale {
  return useI18nContext().locale;
}

/**
 * The page's `i18n` payload (used by the root layout): the deepest route's, with the namespaces of
 * its ancestors' payloads added. A layout route can so provide strings for every page below it:
 * the admin layout (app/routes/admin.tsx) returns the `admin` namespace, and an admin page that
 * returns only `["reports"]` still gets `useT("admin")` (docs/admin-languages.md). The deepest
 * payload's locale is the page's; an ancestor's namespace never replaces one the page returned.
 */
export function useRouteI18nPayload(): I18nPayload | null {
  const matches = useMatches();
  return mergeI18nPayloads(
    matches.map((m) => {
      const data = m.data as { i18n?: I18nPayload } | null | undefined;
      return data && typeof data === "object" ? data.i18n : undefined;
    }),
  );
}

/** The merge of useRouteI18nPayload, over the routes' payloads from the root to the page. */
export function mergeI18nPayloads(
  payloads: readonly (I18nPayload | null | undefined)[],
): I18nPayload | null {
  let merged: I18nPayload | null = null;
  for (let i = payloads.length - 1; i >= 0; i--) {
    const payload = payloads[i];
    if (!payload) continue;
    if (!merged) {
      merged = payload;
      continue;
    }
    const missing = Object.keys(payload.resources).filter((ns) => !(ns in merged!.resources));
    if (missing.length === 0) continue;
    const resources: I18nPayload["resources"] = { ...merged.resources };
    for (const ns of missing) resources[ns] = payload.resources[ns]!;
    merged = { locale: merged.locale, resources };
  }
  return merged;
}
