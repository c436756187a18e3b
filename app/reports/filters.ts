import { z } from "zod";
import { CHANNELS, type Channel } from "~/db/schema";

/**
 * The report filters, read from the query string of a GET form (so they work without JavaScript,
 * can be bookmarked, and the CSV links carry the same filters). Dates are whole days in UTC, both
 * ends included; weeks start on Monday (ISO weeks, as PostgreSQL's date_trunc('week')).
 */
export const GRANULARITIES = ["day", "week"] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export type ReportFilter = {
  /** YYYY-MM-DD, first day included. */
  from: string;
  /** YYYY-MM-DD, last day included. */
  to: string;
  channel: Channel | null;
  granularity: Granularity;
};

export const DEFAULT_RANGE_DAYS = 30;
/** Longest range a report covers (five years): keeps a day-by-day series a sane size. */
export const MAX_RANGE_DAYS = 5 * 366;

const DAY_MS = 86_400_000;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "format")
  .refine((v) => {
    const d = new Date(`${v}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
  }, "not_real");

// The schema's messages are codes (FilterProblem); ISSUE_TEXT says them in English.
const FilterSchema = z.object({
  from: isoDate.optional(),
  to: isoDate.optional(),
  channel: z.enum(CHANNELS, { error: "invalid" }).optional(),
  granularity: z.enum(GRANULARITIES, { error: "invalid" }).optional(),
});

const ISSUE_TEXT: Record<string, string> = {
  format: "must be a date like 2026-11-22",
  not_real: "is not a real date",
  "channel.invalid": "must be email, sms or whatsapp",
  "granularity.invalid": "must be day or week",
};

export function toIsoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function addDays(isoDay: string, days: number): string {
  return toIsoDate(new Date(Date.parse(`${isoDay}T00:00:00Z`) + days * DAY_MS));
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

const LABELS = {
  from: "The start date",
  to: "The end date",
  channel: "The channel",
  granularity: "The granularity",
} as const;

/**
 * A problem with the filter, as a code a page translates (`errors` has the same in English, for
 * the CSV route's plain-text answer and logs): a bad field (`from.format`, `from.not_real`,
 * `to.format`, `to.not_real`, `channel.invalid`, `granularity.invalid`), `order` (start after end)
 * or `too_long` (more than MAX_RANGE_DAYS).
 */
export type FilterProblem = { code: string; max?: number };

export type ParsedFilter = { filter: ReportFilter; errors: string[]; problems: FilterProblem[] };

/**
 * The filter in the query string, or the default (the last 30 days, every channel, by day). A bad
 * value never fails the page: it is reported in `errors` and its default used instead.
 */
export function parseReportFilter(params: URLSearchParams, now: Date = new Date()): ParsedFilter {
  const raw: Record<string, string> = {};
  for (const key of ["from", "to", "channel", "granularity"]) {
    const v = params.get(key)?.trim();
    if (v) raw[key] = v;
  }
  if (raw.channel === "all") delete raw.channel;
  const errors: string[] = [];
  const problems: FilterProblem[] = [];
  const values: z.infer<typeof FilterSchema> = {};
  // Field by field, so one bad value keeps the others.
  for (const key of Object.keys(FilterSchema.shape) as (keyof typeof FilterSchema.shape)[]) {
    const parsed = FilterSchema.shape[key].safeParse(raw[key]);
    if (parsed.success) Object.assign(values, { [key]: parsed.data });
    else {
      const issue = parsed.error.issues[0]?.message ?? "invalid";
      const code = `${key}.${issue}`;
      const text = ISSUE_TEXT[code] ?? ISSUE_TEXT[issue] ?? "is not valid";
      errors.push(`${LABELS[key]} ${text}; the default is used.`);
      problems.push({ code });
    }
  }
  const today = toIsoDate(now);
  let to = values.to ?? today;
  let from = values.from ?? addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  if (daysBetween(from, to) < 0) {
    errors.push("The start date is after the end date; the last 30 days are shown instead.");
    problems.push({ code: "order" });
    to = today;
    from = addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  } else if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) {
    errors.push(`A report covers at most ${MAX_RANGE_DAYS} days; the start date was moved.`);
    problems.push({ code: "too_long", max: MAX_RANGE_DAYS });
    from = addDays(to, -(MAX_RANGE_DAYS - 1));
  }
  return {
    filter: { from, to, channel: values.channel ?? null, granularity: values.granularity ?? "day" },
    errors,
    problems,
  };
}

/** The filter as a query string (for CSV links and the campaign page's back link). */
export function filterQuery(filter: ReportFilter): string {
  const p = new URLSearchParams({ from: filter.from, to: filter.to });
  if (filter.channel) p.set("channel", filter.channel);
  p.set("granularity", filter.granularity);
  return p.toString();
}

/** [start, end) of the filter's days as instants (UTC midnight). */
export function filterInstants(filter: Pick<ReportFilter, "from" | "to">): {
  start: Date;
  end: Date;
} {
  return {
    start: new Date(`${filter.from}T00:00:00Z`),
    end: new Date(`${addDays(filter.to, 1)}T00:00:00Z`),
  };
}

/** The first day of the bucket (the day itself, or the Monday of its week). */
export function bucketOf(isoDay: string, granularity: Granularity): string {
  if (granularity === "day") return isoDay;
  const dow = new Date(`${isoDay}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(isoDay, -((dow + 6) % 7));
}

/** Every bucket of the range in order, including the empty ones (a chart shows the gaps). */
export function bucketsOf(filter: ReportFilter): string[] {
  const step = filter.granularity === "day" ? 1 : 7;
  const out: string[] = [];
  for (let d = bucketOf(filter.from, filter.granularity); d <= filter.to; d = addDays(d, step)) {
    out.push(d);
  }
  return out;
}
