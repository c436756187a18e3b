/**
 * Text that no person typed and PostgreSQL cannot store (a NUL) or that is not Unicode at all (a
 * lone UTF-16 surrogate, which JSON's `\ud800` escape can produce): refused with 400 where input
 * is parsed (app/http/input-guard.server.ts, app/api/body.server.ts).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text value is refused, or null. */
export function badText(value: string): string | null {
  if (value.includes("\0")) return "contains a NUL character";
  if (LONE_SURROGATE.test(value))
    return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return null;
}

/** Deeper JSON than any request of Heed's needs (and deep enough to exhaust a recursive walk). */
export const MAX_JSON_DEPTH = 32;

/**
 * The first refused string (key or value) in a parsed JSON value, or a value nested deeper than
 * MAX_JSON_DEPTH: its path and why. Iterative, so no input can exhaust the stack.
 */
export function findBadText(root: unknown): { path: string; why: string } | null {
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value: root, path: "", depth: 0 },
  ];
  const join = (path: string, k: string | number) => (path ? `${path}.${k}` : String(k));
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      const why = badText(value);
      if (why) return { path, why };
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_JSON_DEPTH)
      return { path, why: `is nested more than ${MAX_JSON_DEPTH} levels deep` };
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], path: join(path, i), depth: depth + 1 });
      }
      continue;
    }
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i]!;
      const why = badText(k);
      if (why) return { path: join(path, k.slice(0, 50)), why: `(a key) ${why}` };
      stack.push({ value: v, path: join(path, k), depth: depth + 1 });
    }
  }
  return null;
}
