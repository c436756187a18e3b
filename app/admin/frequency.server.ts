import { sql } from "kysely";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { CHANNELS, type Channel, type LocalizedText } from "~/db/schema";
import { LOCALES } from "~/i18n/config";
import { cachedFrequencyOptions, clearRecipientCache } from "~/recipient/cache.server";

/**
 * Frequency options (docs/consent.md#frequency): the choices the operator offers per channel,
 * e.g. "every message", "at most weekly" (7 days), "at most monthly" (30 days), with labels per
 * locale. A recipient's choice keeps the window it was made with, so editing or deleting an
 * option never changes what people already chose (app/consent writes their choices).
 */

export const FREQUENCY_KEY_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const Labels = z.record(z.string(), z.string()).transform((rec) => {
  const out: LocalizedText = {};
  for (const locale of LOCALES) {
    const v = rec[locale]?.trim();
    if (v) out[locale] = v.slice(0, 200);
  }
  return out;
});

/** Days between two messages at most; empty: every message. */
const WindowDays = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === "") return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 366) {
      ctx.addIssue({ code: "custom", message: "Use a whole number of days from 1 to 366." });
      return z.NEVER;
    }
    return n;
  });

export const FrequencyFieldsSchema = z.object({
  labels: Labels.refine((l) => Boolean(l.en), "An English label is needed."),
  windowDays: WindowDays,
});
export const NewFrequencySchema = FrequencyFieldsSchema.extend({
  channel: z.enum(CHANNELS),
  key: z
    .string()
    .trim()
    .regex(FREQUENCY_KEY_RE, "Use lower-case letters, digits, - and _ (up to 64)."),
});

export class FrequencyOptionError extends Error {
  constructor(
    readonly code: "exists" | "not_found",
    message: string,
  ) {
    super(message);
    this.name = "FrequencyOptionError";
  }
}

export type FrequencyOption = {
  channel: Channel;
  key: string;
  labels: LocalizedText;
  windowDays: number | null;
};

export async function listFrequencyOptions(db: Db): Promise<FrequencyOption[]> {
  return cachedFrequencyOptions(db);
}

export async function createFrequencyOption(
  db: Db,
  input: z.input<typeof NewFrequencySchema>,
  by: AuditContext,
): Promise<void> {
  const r = NewFrequencySchema.parse(input);
  await inTransaction(db, async (trx) => {
    const last = await trx
      .selectFrom("frequency_options")
      .select(sql<number>`coalesce(max(position), 0)::int`.as("p"))
      .where("channel", "=", r.channel)
      .executeTakeFirstOrThrow();
    const row = await trx
      .insertInto("frequency_options")
      .values({
        channel: r.channel,
        key: r.key,
        labels: JSON.stringify(r.labels),
        window_days: r.windowDays,
        position: last.p + 10,
      })
      .onConflict((oc) => oc.columns(["channel", "key"]).doNothing())
      .returning("key")
      .executeTakeFirst();
    if (!row)
      throw new FrequencyOptionError("exists", `“${r.key}” already exists on ${r.channel}.`);
    await audit(trx, {
      ...by,
      action: "frequency_option.create",
      target: { type: "frequency_option", id: `${r.channel}:${r.key}` },
      details: { labels: r.labels, windowDays: r.windowDays },
    });
  });
  clearRecipientCache();
}

export async function updateFrequencyOption(
  db: Db,
  channel: Channel,
  key: string,
  input: z.input<typeof FrequencyFieldsSchema>,
  by: AuditContext,
): Promise<void> {
  const r = FrequencyFieldsSchema.parse(input);
  await inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom("frequency_options")
      .selectAll()
      .where("channel", "=", channel)
      .where("key", "=", key)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new FrequencyOptionError("not_found", `There is no option “${key}”.`);
    await trx
      .updateTable("frequency_options")
      .set({
        labels: JSON.stringify(r.labels),
        window_days: r.windowDays,
        updated_at: sql<Date>`now()`,
      })
      .where("channel", "=", channel)
      .where("key", "=", key)
      .execute();
    await audit(trx, {
      ...by,
      action: "frequency_option.update",
      target: { type: "frequency_option", id: `${channel}:${key}` },
      details: {
        labels: { from: before.labels, to: r.labels },
        windowDays: { from: before.window_days, to: r.windowDays },
      },
    });
  });
  clearRecipientCache();
}

/** Removes an option from the pages and the API; choices already made keep their window. */
export async function deleteFrequencyOption(
  db: Db,
  channel: Channel,
  key: string,
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const gone = await trx
      .deleteFrom("frequency_options")
      .where("channel", "=", channel)
      .where("key", "=", key)
      .returning("key")
      .executeTakeFirst();
    if (!gone) throw new FrequencyOptionError("not_found", `There is no option “${key}”.`);
    await audit(trx, {
      ...by,
      action: "frequency_option.delete",
      target: { type: "frequency_option", id: `${channel}:${key}` },
    });
  });
  clearRecipientCache();
}
