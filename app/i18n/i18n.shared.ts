import { createInstance, type i18n as I18n, type TFunction } from "i18next";
import { DEFAULT_LOCALE, type Locale } from "./config";

/**
 * What a page needs to translate itself on the server and in the browser: its locale and the
 * strings of the namespaces it uses (never every locale: the browser gets only these).
 */
export type I18nPayload = {
  locale: Locale;
  resources: Record<string, Record<string, unknown>>;
};

/** An i18next instance over a payload; synchronous (resources are given, nothing to load). */
export function createI18n(payload: I18nPayload): I18n {
  const instance = createInstance();
  // With initAsync: false and the resources given, init finishes before it returns; the promise
  // it also returns has nothing left to wait for.
  void instance.init({
    lng: payload.locale,
    // A key missing in a locale falls back to English (a unit test keeps that from happening).
    fallbackLng: payload.locale === DEFAULT_LOCALE ? false : DEFAULT_LOCALE,
    resources: { [payload.locale]: payload.resources },
    ns: Object.keys(payload.resources),
    defaultNS: "common",
    initAsync: false,
    // React escapes text; HTML never goes through dangerouslySetInnerHTML.
    interpolation: { escapeValue: false },
    returnNull: false,
    showSupportNotice: false,
  } as Parameters<I18n["init"]>[0]);
  return instance;
}

export type { TFunction };
