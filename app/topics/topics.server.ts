import { sql } from "kysely";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { CHANNELS, type Channel, type LocalizedText } from "~/db/schema";
import { DEFAULT_LOCALE, LOCALES } from "~/i18n/config";
import { clearRecipientCache } from "~/recipient/cache.server";

/**
 * Topics (docs/consent.md): a key, localized names and descriptions, the channels a topic is sent on,
 * whether addresses start opted in, an order, and archiving. The key never changes (the ledger
 * and campaigns refer to it); "renaming" a topic changes its names.
 */

export const TOPIC_KEY_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const localized = (max: number) =>
  z.record(z.string(), z.string()).transform((rec) => {
    const out: LocalizedText = {};
    for (const locale of LOCALES) {
      const v = rec[locale]?.trim();
      if (v) out[locale] = v.slice(0, max);
    }
    return out;
  });

export const TopicFieldsSchema = z.object({
  names: localized(120).refine((n) => Boolean(n.en), {
    message: "The English name is required.",
  }),
  descriptions: localized(500),
  channels: z.array(z.enum(CHANNELS)).min(1, "Pick at least one channel."),
  defaultOptIn: z.boolean(),
  position: z.number().int().min(-100_000).max(100_000),
});
export const NewTopicSchema = TopicFieldsSchema.extend({
  key: z
    .string()
    .trim()
    .regex(
      TOPIC_KEY_RE,
      "Use lower-case letters, digits, - and _ (up to 64), starting with a letter or digit.",
    ),
});
export type TopicFields = z.infer<typeof TopicFieldsSchema>;
export type NewTopic = z.infer<typeof NewTopicSchema>;

export type TopicRecord = {
  key: string;
  names: LocalizedText;
  descriptions: LocalizedText;
  channels: Channel[];
  defaultOptIn: boolean;
  position: number;
  archivedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

export class TopicError extends Error {
  constructor(
    readonly code: "exists" | "not_found",
    message: string,
  ) {
    super(message);
    this.name = "TopicError";
  }
}

type Row = {
  key: string;
  names: LocalizedText;
  descriptions: LocalizedText;
  channels: Channel[];
  default_opt_in: boolean;
  position: number;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

function toRecord(r: Row): TopicRecord {
  return {
    key: r.key,
    names: r.names ?? {},
    descriptions: r.descriptions ?? {},
    channels: r.channels,
    defaultOptIn: r.default_opt_in,
    position: r.position,
    archivedAt: r.archived_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * The names of these topics in `locale` (else English, else the key), in the operator's order,
 * archived ones too: what a confirmation page or email lists.
 */
export async function topicNames(
  db: Db,
  keys: readonly string[],
  locale: string,
): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await db
    .selectFrom("topics")
    .select(["key", "names"])
    .where("key", "in", keys)
    .orderBy("position")
    .execute();
  return rows.map((r) => r.names[locale] || r.names[DEFAULT_LOCALE] || r.key);
}

/** Topics in the operator's order; archived ones only when asked. */
export async function listTopics(
  db: Db,
  options: { includeArchived?: boolean } = {},
): Promise<TopicRecord[]> {
  let q = db.selectFrom("topics").selectAll().orderBy("position").orderBy("key");
  if (!options.includeArchived) q = q.where("archived_at", "is", null);
  return (await q.execute()).map(toRecord);
}

export async function getTopic(db: Db, key: string): Promise<TopicRecord | null> {
  const row = await db.selectFrom("topics").selectAll().where("key", "=", key).executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** text[] literal for either database (pg and PGlite both take a JS array for text[]). */
function channelsValue(channels: readonly Channel[]) {
  const unique = CHANNELS.filter((c) => channels.includes(c));
  return sql<Channel[]>`${unique}::text[]` as unknown as Channel[];
}

export async function createTopic(db: Db, input: NewTopic, by: AuditContext): Promise<TopicRecord> {
  const t = NewTopicSchema.parse(input);
  const record = await inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto("topics")
      .values({
        key: t.key,
        names: JSON.stringify(t.names),
        descriptions: JSON.stringify(t.descriptions),
        channels: channelsValue(t.channels),
        default_opt_in: t.defaultOptIn,
        position: t.position,
      })
      .onConflict((oc) => oc.column("key").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new TopicError("exists", `A topic with the key "${t.key}" already exists.`);
    await audit(trx, {
      ...by,
      action: "topic.create",
      target: { type: "topic", id: t.key },
      details: {
        names: t.names,
        channels: row.channels,
        defaultOptIn: t.defaultOptIn,
        position: t.position,
      },
    });
    return toRecord(row);
  });
  clearRecipientCache();
  return record;
}

export async function updateTopic(
  db: Db,
  key: string,
  input: TopicFields,
  by: AuditContext,
): Promise<TopicRecord> {
  const t = TopicFieldsSchema.parse(input);
  const record = await inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom("topics")
      .selectAll()
      .where("key", "=", key)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new TopicError("not_found", `There is no topic "${key}".`);
    const row = await trx
      .updateTable("topics")
      .set({
        names: JSON.stringify(t.names),
        descriptions: JSON.stringify(t.descriptions),
        channels: channelsValue(t.channels),
        default_opt_in: t.defaultOptIn,
        position: t.position,
        updated_at: sql<Date>`now()`,
      })
      .where("key", "=", key)
      .returningAll()
      .executeTakeFirstOrThrow();
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    const pairs: [string, unknown, unknown][] = [
      ["names", before.names, row.names],
      ["descriptions", before.descriptions, row.descriptions],
      ["channels", before.channels, row.channels],
      ["defaultOptIn", before.default_opt_in, row.default_opt_in],
      ["position", before.position, row.position],
    ];
    for (const [field, from, to] of pairs) {
      if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
    }
    if (Object.keys(changes).length > 0) {
      await audit(trx, {
        ...by,
        action: "topic.update",
        target: { type: "topic", id: key },
        details: { changes },
      });
    }
    return toRecord(row);
  });
  clearRecipientCache();
  return record;
}

/** Archived topics leave the preference page; their history and recorded choices stay. */
export async function setTopicArchived(
  db: Db,
  key: string,
  archived: boolean,
  by: AuditContext,
): Promise<TopicRecord> {
  const record = await inTransaction(db, async (trx) => {
    const row = await trx
      .updateTable("topics")
      .set({
        archived_at: archived ? sql<Date>`coalesce(archived_at, now())` : null,
        updated_at: sql<Date>`now()`,
      })
      .where("key", "=", key)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new TopicError("not_found", `There is no topic "${key}".`);
    await audit(trx, {
      ...by,
      action: archived ? "topic.archive" : "topic.unarchive",
      target: { type: "topic", id: key },
    });
    return toRecord(row);
  });
  clearRecipientCache();
  return record;
}
