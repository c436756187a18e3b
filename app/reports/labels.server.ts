import type { Db } from "~/db/db.server";
import type { Locale } from "~/i18n/config";
import { getFixedT } from "~/i18n/i18n.server";
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

/**
 * Labels in an operator's page language, for the report pages: a reason's label in `locale` (the
 * operator's own, then, outside English, Heed's translation of a built-in code, then the
 * operator's English label, then the code made readable), a topic's name in `locale` (then English, then its key), a
 * source's label, and the words for "no reason" / "no topic". Reports compute in English (CSV,
 * alerts, logs); a page relabels its rows with these by code.
 */
export type LocalLabels = {
  reason: (code: string | null) => string;
  topic: (key: string | null) => string;
  source: (code: string) => string;
};

export async function localLabels(db: Db, locale: Locale): Promise<LocalLabels> {
  const [reasons, topics] = await Promise.all([
    listReasons(db, { includeDisabled: true }),
    db.selectFrom("topics").select(["key", "names"]).execute(),
  ]);
  const t = getFixedT(locale, "reports");
  // Heed's own translation of a built-in code, outside English: in English, reports keep the
  // operator's label or the code made readable ("Too frequent"), as they always have.
  const recipientT = getFixedT(locale, "recipient");
  const tr = (key: string) => (locale === "en" ? "" : recipientT(key, { defaultValue: "" }));
  const tl = getFixedT(locale, "labels");
  const reasonMap = new Map(
    reasons.map((r) => [
      r.code,
      r.labels[locale]?.trim() ||
        tr(`reasons.${r.code}`) ||
        r.labels.en?.trim() ||
        humanize(r.code),
    ]),
  );
  const topicMap = new Map(
    topics.map((r) => [r.key, r.names[locale]?.trim() || r.names.en?.trim() || r.key]),
  );
  return {
    reason: (code) =>
      code === null
        ? t("labels.no_reason")
        : (reasonMap.get(code) ?? (tr(`reasons.${code}`) || humanize(code))),
    topic: (key) => (key === null ? t("labels.no_topic") : (topicMap.get(key) ?? key)),
    source: (code) => tl(`sources.${code}`, { defaultValue: code.replace(/_/g, " ") }),
  };
}
