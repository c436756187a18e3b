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

/** The first refused string (key or value) in a parsed JSON value: its path and why. */
export function findBadText(value: unknown, path = ""): { path: string; why: string } | null {
  if (typeof value === "string") {
    const why = badText(value);
    return why ? { path, why } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findBadText(value[i], path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const why = badText(k);
      if (why)
        return { path: path ? `${path}.${k.slice(0, 50)}` : k.slice(0, 50), why: `(a key) ${why}` };
      const found = findBadText(v, path ? `${path}.${k}` : k);
      if (found) return found;
    }
  }
  return null;
}
