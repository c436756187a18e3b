import { z } from "zod";
import { CHANNELS, CONSENT_SOURCES } from "~/db/schema";
import { UNDELIVERABLE_SOURCE } from "~/email/constants";

/**
 * The export filter as it comes from a query string (the /admin/exports form): channel, source,
 * and a date range of whole UTC days (`from` inclusive, `to` inclusive).
 */
const day = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "Use a date such as 2026-01-31.")
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), "Use a real date.");

export const ExportQuery = z
  .object({
    channel: z.union([z.enum(CHANNELS), z.literal("")], "Pick a channel.").optional(),
    source: z
      .union([z.enum([...CONSENT_SOURCES, UNDELIVERABLE_SOURCE]), z.literal("")], "Pick a source.")
      .optional(),
    from: z.union([day, z.literal("")]).optional(),
    to: z.union([day, z.literal("")]).optional(),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: "The start date is after the end date.",
    path: ["to"],
  });

export type ExportQueryValues = z.infer<typeof ExportQuery>;

export function exportFilterOf(q: ExportQueryValues) {
  return {
    channel: q.channel || null,
    source: q.source || null,
    from: q.from ? new Date(`${q.from}T00:00:00Z`) : null,
    to: q.to ? new Date(Date.parse(`${q.to}T00:00:00Z`) + 86_400_000) : null,
  };
}
