/**
 * The keyset cursor of a paged list in a query string (`?before=123`: the last id of the page
 * shown): a positive integer, or null when it is absent or anything else.
 */
export function idCursor(params: URLSearchParams, name = "before"): number | null {
  const value = Number.parseInt(params.get(name) ?? "", 10);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}
