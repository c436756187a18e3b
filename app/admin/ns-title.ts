import type { I18nPayload } from "~/i18n/i18n.shared";

/**
 * A page title from the page's own `i18n` payload (`meta` runs outside React, so no useT):
 * `nsTitle(data, "settings", "topics.title", "Topics")` → "Témata · Heed admin".
 */
export function nsTitle(
  data: { i18n?: I18nPayload } | null | undefined,
  ns: string,
  key: string,
  fallback: string,
  values: Record<string, string> = {},
): string {
  let node: unknown = data?.i18n?.resources[ns];
  for (const part of key.split(".")) {
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
  }
  const text = typeof node === "string" ? node : fallback;
  return `${text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => values[name] ?? "")} · Heed admin`;
}
