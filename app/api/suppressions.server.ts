import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { ApiError } from "~/api/errors.server";
import {
  applyPreparedBulkUnsubscribe,
  chainPreparedBulkUnsubscribe,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeItem,
} from "~/consent/bulk.server";
import { normalizeAddress } from "~/consent/address.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";

/**
 * Suppressions for the sender API: suppress addresses through the consent core's bulk door
 * (source `api`, actor the API key; the same set-based statement as an import, the writes of a
 * call in one transaction), and export every suppressed address as CSV in keyset-paginated batches.
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
  const region = defaultPhoneRegion();
  const invalid: SuppressResult["invalid"] = [];
  const seen = new Set<string>();
  const items: BulkUnsubscribeItem[] = [];
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
      items.push({
        channel,
        address,
        reasonCode: input.reason ?? null,
      });
    }
  }
  // One transaction for the call's writes (at most 1,000 addresses, 2,000 pairs with "all"): the
  // bulk door writes a ledger row and the state for each pair not suppressed yet, set-based, and
  // leaves the others alone (idempotent), like applyConsentChanges one by one would. Its CPU half
  // (hashing the addresses and the ledger rows) runs before that transaction, as the import's
  // does: on PGlite, whose one session a transaction holds, other requests are answered meanwhile.
  const options = {
    source: "api" as const,
    // The caller's note is an operator's note (details.note, the export's `note` column), not
    // the recipient's words (reason_text).
    note: input.note ?? null,
    campaign: input.campaign ?? null,
    actor: input.actor,
    ip: input.ip,
    userAgent: input.userAgent,
  };
  const prepared = await chainPreparedBulkUnsubscribe(
    db,
    await prepareBulkUnsubscribe(items),
    options,
  );
  const result = await applyPreparedBulkUnsubscribe(db, prepared, options);
  return {
    suppressed: result.imported,
    alreadySuppressed: result.alreadySuppressed + result.duplicates,
    invalid,
  };
}
