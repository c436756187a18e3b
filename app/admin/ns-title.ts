import type { I18nPayload } from "~/i18n/i18n.shared";

type WithI18n = { i18n?: I18nPayload } | null | undefined;
type Match = { data?: unknown } | undefined;

function lookup(payload: I18nPayload | undefined, ns: string, key: string): string | null {
  let node: unknown = payload?.resources[ns];
  for (const part of key.split(".")) {
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
  }
  return typeof node === "string" ? node : null;
}

/**
 * The admin area's own name in the page's language ("Správa Heed"), from the `admin` namespace
 * that the admin layout's loader returns when it does; "Heed admin" otherwise.
 */
export function adminName(matches: readonly Match[] = []): string {
  for (const m of matches) {
    const title = lookup((m?.data as WithI18n)?.i18n, "admin", "title");
    if (title) return title;
  }
  return "Heed admin";
}

/**
 * A page title from the page's own `i18n` payload (`meta` runs outside React, so no useT):
 * `nsTitle(data, matches, "settings", "topics.title", "Topics")` → "Témata · Správa Heed".
 */
export function nsTitle(
  data: WithI18n,
  matches: readonly Match[],
  ns: string,
  key: string,
  fallback: string,
  values: Record<string, string> = {},
): string {
  const text = lookup(data?.i18n, ns, key) ?? fallback;
  const filled = text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => values[name] ?? "");
  return `${filled} · ${adminName(matches)}`;
}
