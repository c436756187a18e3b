import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";

/**
 * Campaigns (docs/consent.md): one send that the sender registers, so that unsubscribes can be
 * attributed (links carry the campaign key) and rates computed (sent count).
 */

export type CampaignInput = {
  key: string;
  name: string;
  channel: Channel;
  topic?: string | null;
  sentCount: number;
};

export type Campaign = {
  key: string;
  name: string;
  channel: Channel;
  topic: string | null;
  sentCount: number;
  createdAt: Date;
  updatedAt: Date;
};

export type UpsertCampaignResult =
  | { ok: true; campaign: Campaign; created: boolean }
  | { ok: false; reason: "unknown_topic" }
  | { ok: false; reason: "channel_conflict"; existingChannel: Channel };

/**
 * Registers a campaign, or updates its name, topic and sent count. A key never moves to another
 * channel (its unsubscribes would be counted against the wrong send).
 */
export async function upsertCampaign(db: Db, input: CampaignInput): Promise<UpsertCampaignResult> {
  if (input.topic) {
    const topic = await db
      .selectFrom("topics")
      .select("key")
      .where("key", "=", input.topic)
      .executeTakeFirst();
    if (!topic) return { ok: false, reason: "unknown_topic" };
  }
  const row = await db
    .insertInto("campaigns")
    .values({
      key: input.key,
      name: input.name,
      channel: input.channel,
      topic: input.topic ?? null,
      sent_count: input.sentCount,
    })
    .onConflict((oc) =>
      oc
        .column("key")
        .doUpdateSet({
          name: input.name,
          topic: input.topic ?? null,
          sent_count: input.sentCount,
          updated_at: sql<Date>`now()`,
        })
        .where("campaigns.channel", "=", input.channel),
    )
    .returning([
      "key",
      "name",
      "channel",
      "topic",
      "sent_count",
      "created_at",
      "updated_at",
      sql<boolean>`(xmax = 0)`.as("inserted"),
    ])
    .executeTakeFirst();
  if (!row) {
    const existing = await db
      .selectFrom("campaigns")
      .select("channel")
      .where("key", "=", input.key)
      .executeTakeFirstOrThrow();
    return { ok: false, reason: "channel_conflict", existingChannel: existing.channel };
  }
  return {
    ok: true,
    created: row.inserted,
    campaign: {
      key: row.key,
      name: row.name,
      channel: row.channel,
      topic: row.topic,
      sentCount: Number(row.sent_count),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    },
  };
}

export function campaignJson(c: Campaign) {
  return { ...c, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() };
}
