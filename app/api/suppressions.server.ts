import { sql } from "kysely";
import { stringify } from "csv-stringify/sync";
import { ApiError } from "~/api/errors.server";
import { applyConsentChanges, type ConsentChange } from "~/consent/consent.server";
import { normalizeAddress } from "~/consent/address.server";
import type { Db } from "~/db/db.server";
import type { Channel, ConsentSource } from "~/db/schema";
import { getEnv } from "~/env.server";

/**
 * Suppressions for the sender API: suppress addresses through the consent core (source `api`,
 * actor the API key), and export every suppressed address as CSV in keyset-paginated batches.
 */

export type SuppressInput = {
  channel: Channel | "all";
  addresses: readonly string[];
  note?: string;
  reason?: string;
  campaign?: string;
  actor: { type: "api_key"; id: string };
  ip: string | null;
  userAgent: string | null;
};

export type SuppressResult = {
  suppressed: number;
  alreadySuppressed: number;
  invalid: { address: string; reason: string }[];
};

function channelsFor(channel: Channel | "all", address: string): Channel[] {
  if (channel !== "all") return [channel];
  return address.includes("@") ? ["email"] : ["sms", "whatsapp"];
}

export async function suppressAddresses(db: Db, input: SuppressInput): Promise<SuppressResult> {
  if (input.reason) {
    const known = await db
      .selectFrom("unsubscribe_reasons")
      .select("code")
      .where("code", "=", input.reason)
      .executeTakeFirst();
    if (!known) {
      throw new ApiError(422, "unknown_reason", `No unsubscribe reason "${input.reason}"`, {
        reason: input.reason,
      });
    }
  }
  const region = getEnv().DEFAULT_PHONE_REGION;
  const invalid: SuppressResult["invalid"] = [];
  const seen = new Set<string>();
  const changes: ConsentChange[] = [];
  for (const raw of input.addresses) {
    const normalized = channelsFor(input.channel, raw).map(
      (channel) => [channel, normalizeAddress(channel, raw, region)] as const,
    );
    const bad = normalized.find(([, n]) => !n.ok);
    if (bad) {
      // An address invalid on one of its channels ("all") is skipped on every channel.
      invalid.push({ address: raw, reason: (bad[1] as { reason: string }).reason });
      continue;
    }
    for (const [channel, n] of normalized) {
      const address = (n as { address: string }).address;
      const k = `${channel}\u0000${address}`;
      if (seen.has(k)) continue;
      seen.add(k);
      changes.push({
        channel,
        address,
        action: "unsubscribe",
        source: "api",
        reasonCode: input.reason ?? null,
        reasonText: input.note ?? null,
        campaign: input.campaign ?? null,
        actor: input.actor,
        ip: input.ip,
        userAgent: input.userAgent,
      });
    }
  }
  const results = await applyConsentChanges(db, changes);
  const suppressed = results.filter((r) => r.changed).length;
  return { suppressed, alreadySuppressed: results.length - suppressed, invalid };
}

export type ExportFilter = {
  channel?: Channel;
  source?: ConsentSource;
  since?: Date;
  until?: Date;
};

export const EXPORT_COLUMNS = [
  "address",
  "channel",
  "date",
  "source",
  "reason",
  "campaign",
  "note",
] as const;

type ExportRow = {
  channel: Channel;
  address_hash: string;
  address: string;
  occurred_at: Date | null;
  source: string | null;
  reason_code: string | null;
  reason_text: string | null;
  campaign: string | null;
};

/**
 * Every suppressed address with its latest unsubscribe (date, source, reason, campaign), in
 * batches ordered by the channel_consent key: never the whole table in memory.
 */
export async function* suppressionBatches(
  db: Db,
  filter: ExportFilter,
  batchSize = 1000,
): AsyncGenerator<ExportRow[]> {
  let after: { channel: string; hash: string } | null = null;
  for (;;) {
    const rows: ExportRow[] = (
      await sql<ExportRow>`
        select cc.channel, cc.address_hash, cc.address,
               l.occurred_at, l.source, l.reason_code, l.reason_text, l.campaign
        from channel_consent cc
        left join lateral (
          select occurred_at, source, reason_code, reason_text, campaign
          from consent_ledger
          where channel = cc.channel and address_hash = cc.address_hash and action = 'unsubscribe'
          order by id desc limit 1
        ) l on true
        where cc.status = 'unsubscribed'
          and cc.address is not null
          ${after ? sql`and (cc.channel, cc.address_hash) > (${after.channel}, ${after.hash})` : sql``}
          ${filter.channel ? sql`and cc.channel = ${filter.channel}` : sql``}
          ${filter.source ? sql`and l.source = ${filter.source}` : sql``}
          ${filter.since ? sql`and l.occurred_at >= ${filter.since}` : sql``}
          ${filter.until ? sql`and l.occurred_at < ${filter.until}` : sql``}
        order by cc.channel, cc.address_hash
        limit ${batchSize}`.execute(db)
    ).rows;
    if (rows.length > 0) yield rows;
    if (rows.length < batchSize) return;
    const last = rows[rows.length - 1]!;
    after = { channel: last.channel, hash: last.address_hash };
  }
}

function toIso(d: Date | string | null): string {
  if (!d) return "";
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

/** The CSV export as a byte stream: header, then one chunk per batch. */
export function suppressionsCsvStream(db: Db, filter: ExportFilter): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let batches: AsyncGenerator<ExportRow[]> | undefined;
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(stringify([EXPORT_COLUMNS as unknown as string[]])));
        return;
      }
      batches ??= suppressionBatches(db, filter);
      try {
        const next = await batches.next();
        if (next.done) {
          controller.close();
          return;
        }
        const csv = stringify(
          next.value.map((r) => [
            r.address,
            r.channel,
            toIso(r.occurred_at),
            r.source ?? "",
            r.reason_code ?? "",
            r.campaign ?? "",
            r.reason_text ?? "",
          ]),
        );
        controller.enqueue(encoder.encode(csv));
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel() {
      await batches?.return(undefined);
    },
  });
}
