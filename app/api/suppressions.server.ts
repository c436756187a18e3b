import { ApiError } from "~/api/errors.server";
import { applyConsentChanges, type ConsentChange } from "~/consent/consent.server";
import { normalizeAddress } from "~/consent/address.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
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
        // The caller's note is an operator's note (details.note, the export's `note` column),
        // not the recipient's words (reason_text).
        ...(input.note ? { details: { note: input.note } } : {}),
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
