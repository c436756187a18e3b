import { z } from "zod";
import { CHANNELS, CONSENT_SOURCES } from "~/db/schema";
import { UNDELIVERABLE_SOURCE } from "~/email/constants";

/**
 * The export filter as it comes from a query string (the /admin/exports form): channel, source,
 * and a date range of whole UTC days (`from` inclusive, `to` inclusive). Its error messages are
 * codes (`date`, `real_date`, `channel`, `source`, `separator`, `order`): the form says them in the
 * operator's language (the `exports` namespace, `error.<code>`).
 */
/** A whole UTC day as in a date input, e.g. 2026-01-31. */
export const DayString = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "date")
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), "real_date");

export const ExportQuery = z
  .object({
    channel: z.union([z.enum(CHANNELS), z.literal("")], "channel").optional(),
    source: z
      .union([z.enum([...CONSENT_SOURCES, UNDELIVERABLE_SOURCE]), z.literal("")], "source")
      .optional(),
    from: z.union([DayString, z.literal("")]).optional(),
    to: z.union([DayString, z.literal("")]).optional(),
    /** The field separator for a spreadsheet: `comma` (default) or `semicolon`. */
    separator: z.union([z.enum(["comma", "semicolon"]), z.literal("")], "separator").optional(),
    /** A random id the page sends to learn that the download started (the export-started cookie). */
    progress: z.union([z.string().regex(/^[A-Za-z0-9]{8,40}$/), z.literal("")]).optional(),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: "order",
    path: ["to"],
  });

export type ExportQueryValues = z.infer<typeof ExportQuery>;

/** The query parameters of the export form. */
export const EXPORT_QUERY_KEYS = [
  "channel",
  "source",
  "from",
  "to",
  "separator",
  "progress",
] as const;

/**
 * The cookie the download sets to the form's `progress` id once the file starts, so that the page
 * can tell the operator that work is done (a download does not navigate, so nothing else tells).
 */
export const EXPORT_STARTED_COOKIE = "heed_export_started";

export function exportFilterOf(q: ExportQueryValues) {
  return {
    channel: q.channel || null,
    source: q.source || null,
    from: q.from ? new Date(`${q.from}T00:00:00Z`) : null,
    to: q.to ? new Date(Date.parse(`${q.to}T00:00:00Z`) + 86_400_000) : null,
  };
}
