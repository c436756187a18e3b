/** The languages every recipient page and email is available in (docs/recipient-pages.md). */
export const LOCALES = ["en", "pl", "pt", "cs", "de", "es", "fr"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "en";

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}
