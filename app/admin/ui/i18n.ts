import type { I18nPayload } from "~/i18n/i18n.shared";

/**
 * Admin page titles in the page's language. `meta` runs outside React (no useT), so it reads the
 * admin layout's payload from the matches: `meta = ({ matches }) => [{ title: adminPageTitle(matches,
 * "contacts.title") }]` gives "Kontakty · Heed admin" (docs/admin-languages.md).
 */
type Match = { id: string; data: unknown } | undefined;

function lookup(payload: I18nPayload | null | undefined, key: string): string | null {
  let node: unknown = payload?.resources.admin;
  for (const part of key.split(".")) {
    if (!node || typeof node !== "object") return null;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === "string" ? node : null;
}

/** The `admin` string at `key` in a payload, or null. */
export function adminString(payload: I18nPayload | null | undefined, key: string): string | null {
  return lookup(payload, key);
}

/** The admin title ("Heed admin") from a payload, e.g. the layout's own loader data. */
export function adminTitle(payload: I18nPayload | null | undefined, key = "title"): string {
  return lookup(payload, key) ?? "Heed admin";
}

/** The first `i18n` payload among the matches that carries the admin namespace (deepest first). */
export function adminPayloadOf(matches: readonly Match[]): I18nPayload | null {
  for (let i = matches.length - 1; i >= 0; i--) {
    const data = matches[i]?.data as { i18n?: I18nPayload } | null | undefined;
    if (data && typeof data === "object" && data.i18n?.resources.admin) return data.i18n;
  }
  return null;
}

/** "<page> · Heed admin", translated; `fallback` (English) when the strings are not there. */
export function adminPageTitle(matches: readonly Match[], key: string, fallback: string): string {
  const payload = adminPayloadOf(matches);
  return `${lookup(payload, key) ?? fallback} · ${adminTitle(payload)}`;
}
