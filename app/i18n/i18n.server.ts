import type { TFunction } from "i18next";
import { DEFAULT_LOCALE, isLocale, LOCALES, type Locale } from "./config";
import { createI18n, type I18nPayload } from "./i18n.shared";
import { resources, type Namespace } from "./resources";

/**
 * Server-side i18n (i18next over app/i18n/resources.ts). Locale negotiation for recipient pages
 * and mail (docs/recipient-pages.md): the contact's locale, then the request's Accept-Language, then English.
 */

/** "pt-BR", "PT", "pt_br" → "pt"; anything Heed does not speak → null. */
export function toLocale(value: string | null | undefined): Locale | null {
  if (!value) return null;
  const primary = value.trim().toLowerCase().split(/[-_]/)[0];
  return isLocale(primary) ? primary : null;
}

/** The supported locales an Accept-Language header asks for, best first (q-values honoured). */
export function parseAcceptLanguage(header: string | null | undefined): Locale[] {
  if (!header) return [];
  const entries = header
    .slice(0, 512)
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const quality = q ? Number(q.slice(2)) : 1;
      return { locale: toLocale(tag), quality: Number.isFinite(quality) ? quality : 0, index };
    })
    .filter(
      (e): e is { locale: Locale; quality: number; index: number } => !!e.locale && e.quality > 0,
    )
    .sort((a, b) => b.quality - a.quality || a.index - b.index);
  return [...new Set(entries.map((e) => e.locale))];
}

/** What locale negotiation reads of a request: its headers (a Request, or the token pages' view of one). */
export type HasHeaders = { headers: { get(name: string): string | null } };

/**
 * The cookie holding a language someone chose explicitly in Heed: the admin Account page sets it
 * with Path=/admin (and again at login, from the user's saved choice), so browsers send it to admin
 * pages only, never to recipient pages (docs/admin-languages.md).
 */
export const LOCALE_COOKIE = "heed_locale";

/** The supported locale in the request's LOCALE_COOKIE, if any. */
export function cookieLocale(request: HasHeaders | null): Locale | null {
  const header = request?.headers.get("cookie");
  if (!header) return null;
  const match = /(?:^|;)\s*heed_locale=([^;]*)/.exec(header.slice(0, 4096));
  return match ? toLocale(match[1]) : null;
}

/**
 * The token's contact locale, then a language chosen in Heed (LOCALE_COOKIE, sent to admin pages
 * only), then Accept-Language, then English.
 */
export function negotiateLocale(request: HasHeaders | null, contactLocale?: string | null): Locale {
  return (
    toLocale(contactLocale) ??
    cookieLocale(request) ??
    parseAcceptLanguage(request?.headers.get("accept-language"))[0] ??
    DEFAULT_LOCALE
  );
}

// One instance holding every locale, for server-side strings (mail, plain-text answers).
let serverInstance: ReturnType<typeof createI18n> | undefined;
function server() {
  if (!serverInstance) {
    serverInstance = createI18n({ locale: DEFAULT_LOCALE, resources: resources[DEFAULT_LOCALE] });
    for (const locale of LOCALES) {
      for (const [ns, strings] of Object.entries(resources[locale])) {
        serverInstance.addResourceBundle(locale, ns, strings, true, true);
      }
    }
  }
  return serverInstance;
}

/** A `t` bound to one locale and namespace, e.g. `getFixedT("pl", "recipient")("unsubscribe.title")`. */
export function getFixedT(locale: Locale, ns: Namespace = "common"): TFunction {
  return server().getFixedT(locale, ns);
}

/**
 * The strings a page needs, for its loader to return (the root layout hands them to
 * `I18nProvider`, so components call `useT(ns)`). `common` is always included.
 */
export function i18nPayload(locale: Locale, namespaces: readonly Namespace[] = []): I18nPayload {
  const out: Record<string, Record<string, unknown>> = {};
  for (const ns of new Set<Namespace>(["common", ...namespaces])) {
    out[ns] = resources[locale][ns] as Record<string, unknown>;
  }
  return { locale, resources: out };
}

/** Dates on recipient pages, e.g. "12 March 2027" / "12. března 2027". */
export function formatDate(locale: Locale, date: Date): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeZone: "UTC" }).format(date);
}
