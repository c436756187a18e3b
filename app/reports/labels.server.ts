import type { Db } from "~/db/db.server";
import { listReasons } from "~/settings/settings.server";

/**
 * How reports name and order reasons: the operator's English label of a reason code, or the code
 * made readable; "no reason given" for none; most picked first.
 */

/** "no_longer_interested" → "No longer interested": the label of a code with no English label. */
export function humanize(code: string): string {
  const s = code.replace(/[_-]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export const NO_REASON = "No reason given";
export const NO_TOPIC = "No topic (whole channel)";

export async function reasonLabels(db: Db): Promise<Map<string, string>> {
  const reasons = await listReasons(db, { includeDisabled: true });
  return new Map(reasons.map((r) => [r.code, r.labels.en?.trim() || humanize(r.code)]));
}

export function labelOf(labels: Map<string, string>, code: string | null): string {
  if (code === null) return NO_REASON;
  return labels.get(code) ?? humanize(code);
}

/** Most picked first, ties by label, "no reason given" last. */
export function reasonOrder(
  a: { code: string | null; label: string; count: number },
  b: typeof a,
): number {
  return (
    Number(a.code === null) - Number(b.code === null) ||
    b.count - a.count ||
    a.label.localeCompare(b.label)
  );
}

export function share(count: number, total: number): number {
  return total > 0 ? count / total : 0;
}
