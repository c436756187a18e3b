import { z } from "zod";
import { CHANNELS } from "~/db/schema";
import { SOURCE_AUTH_TYPES, SOURCE_FORMATS, SOURCE_SCHEDULES } from "~/sources/schema";

/** The admin forms of data sources (app/routes/admin.sources.*): one zod schema per form. */

export const SourceFormSchema = z.object({
  name: z.string().trim().min(1, "Enter a name.").max(100, "At most 100 characters."),
  url: z.string().trim().min(1, "Enter the URL.").max(2000, "The URL is too long."),
  format: z.enum(SOURCE_FORMATS, "Choose CSV, JSON or XML."),
  schedule: z.enum(SOURCE_SCHEDULES, "Choose hourly, daily or weekly."),
  channel: z
    .enum([...CHANNELS, "per_record"], "Choose a channel.")
    .transform((v) => (v === "per_record" ? null : v)),
  authType: z.enum(SOURCE_AUTH_TYPES, "Choose how to authorize."),
  authName: z.string().trim().max(200, "At most 200 characters."),
  authSecret: z.string().max(4000, "At most 4,000 characters."),
  enabled: z.boolean().optional(),
});

export const MappingFormSchema = z.object({
  records: z.string().max(500),
  delimiter: z.string().max(1).optional(),
  header: z.boolean().optional(),
  address: z.string().min(1, "Choose the field that holds the addresses.").max(500),
  channel: z
    .string()
    .max(500)
    .transform((v) => v || null),
  reason: z
    .string()
    .max(500)
    .transform((v) => v || null),
});
