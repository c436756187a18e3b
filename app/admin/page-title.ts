/**
 * A page's <title>: "<page> · <the admin area's name>", both in the page's language. `meta` runs
 * outside React, so the admin area's name is read from the admin layout's i18n payload among the
 * matches (its `admin` namespace, `title`); "Heed admin" when it has none.
 */
type Match = { id: string; data: unknown } | undefined;

export function adminPageTitle(matches: readonly Match[], page: string): string {
  const layout = matches.find((m) => m?.id === "routes/admin")?.data as
    { i18n?: { resources?: { admin?: { title?: unknown } } } } | null | undefined;
  const name = layout?.i18n?.resources?.admin?.title;
  return `${page} · ${typeof name === "string" && name ? name : "Heed admin"}`;
}
