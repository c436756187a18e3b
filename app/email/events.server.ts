import { sql } from "kysely";
import { normalizeEmail } from "~/consent/address.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { addressKey, applyConsentChanges, type ConsentChange } from "~/consent/consent.server";
import type { Db, Trx } from "~/db/db.server";
import type { ConsentSource } from "~/db/schema";
import { getEnv, type Env } from "~/env.server";
import { identifyFromListUnsubscribe, type LinkEvidence } from "~/email/identify.server";
import {
  getBounceSettings,
  markUndeliverable,
  recordSoftBounces,
  resetSoftBounces,
  type BounceSettings,
  type UndeliverableMark,
} from "~/email/undeliverable.server";
import {
  handleInboundManyOnce,
  handleInboundOnce,
  type ClaimedInbound,
  type InboundEvent,
  type InboundOutcome,
} from "~/inbound/inbound.server";

/**
 * Heed's own shape of what an email provider tells it (after the adapter verified the provider's
 * signature and translated its payload), and the one domain function that decides on it:
 *
 * - complaint (a spam report: ESP complaint events, feedback-loop reports) → the address is
 *   unsubscribed from email, source `complaint`, whatever topic the message was about;
 * - unsubscribe (the ESP's own unsubscribe link or list/group unsubscribe) → unsubscribed, source
 *   `esp`; a group the operator mapped to a topic (ESP_GROUP_TOPICS) → that topic's opt-out;
 * - hard_bounce → the address is marked undeliverable (not consent; app/email/undeliverable.server.ts);
 * - soft_bounce → counted, when the operator set "N soft bounces in a row";
 * - delivered → ends a run of soft bounces (only read when soft bounces are counted; never stored).
 *
 * Every event except deliveries is recorded once per (provider, provider event id) through
 * handleInboundOnce, so a replay or a provider's retry changes nothing. A request with one event
 * goes through applyConsentChanges; a batch (SendGrid, an SES notification naming several
 * recipients) through the consent core's bulk door and set-based marks, in one transaction.
 */

export type EmailEventKind =
  "complaint" | "unsubscribe" | "hard_bounce" | "soft_bounce" | "delivered";

export type EmailEvent = {
  /** ses, sendgrid, mailgun, postmark, resend, fbl, … */
  provider: string;
  /** The provider's own id of the event: what makes a replay change nothing. */
  providerEventId: string;
  kind: EmailEventKind;
  /** The recipient as the provider names it; null when the report redacted it. */
  address: string | null;
  /** The sender's campaign key, when the provider passes it back (custom args, tags, metadata). */
  campaign?: string | null;
  /** The ESP's list, group, stream or tag of an unsubscribe. */
  group?: string | null;
  /** Bounce diagnostic or complaint feedback type, kept with the event. */
  detail?: string | null;
  /** `List-Unsubscribe` values of the original message: Heed's token or mailto code in them. */
  listUnsubscribe?: readonly string[] | null;

  /** What else the adapter wants kept with the inbound record (no secrets). */
  details?: Record<string, unknown>;
};

export type EmailEventsResult = {
  /** Events recorded and decided now. */
  accepted: number;
  /** Replays and retries of events already recorded (nothing changed). */
  duplicates: number;
  /** Deliveries and uncounted soft bounces: read, not stored. */
  skipped: number;
  /** Recorded, but no address could be found for them. */
  unmatched: number;
};

const INBOUND_KIND: Record<Exclude<EmailEventKind, "delivered">, string> = {
  complaint: "complaint",
  unsubscribe: "esp_unsubscribe",
  hard_bounce: "hard_bounce",
  soft_bounce: "soft_bounce",
};

/** ESP_GROUP_TOPICS: `provider:group=topic, …` → topic by `provider:group`. */
export function groupTopics(env: Env = getEnv()): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of (env.ESP_GROUP_TOPICS ?? "").split(",")) {
    const e = entry.trim();
    const eq = e.lastIndexOf("=");
    if (eq > 0) out.set(e.slice(0, eq).trim(), e.slice(eq + 1).trim());
  }
  return out;
}

type Resolved = EmailEvent & {
  address: string | null;
  hash: string | null;
  contactId: string | null;
  campaign: string | null;
  /** The topic an unsubscribe opts out of (a mapped group, or the mailto code's topic). */
  topic: string | null;
  via: "provider" | LinkEvidence["via"] | null;
};

async function resolve(db: Db, events: readonly EmailEvent[]): Promise<Resolved[]> {
  const topics = groupTopics();
  const emailTopics = new Set(
    (
      await db
        .selectFrom("topics")
        .select("key")
        .where(sql<boolean>`'email' = any(channels)`)
        .where("archived_at", "is", null)
        .execute()
    ).map((t) => t.key),
  );
  const out: Resolved[] = [];
  for (const e of events) {
    const n = e.address ? normalizeEmail(e.address) : null;
    const named = n?.ok ? n.address : null;
    let evidence: LinkEvidence | null = null;
    // The headers are read when the provider names no address, or to learn the campaign.
    if (e.listUnsubscribe?.length && (!named || !e.campaign)) {
      evidence = await identifyFromListUnsubscribe(db, e.listUnsubscribe);
    }
    const useLink = evidence !== null && !named;
    const address = useLink ? evidence!.address : named;
    const hash = useLink ? evidence!.addressHash : named ? addressKey(named) : null;
    // The message's own link only counts as the recipient's if it names the same address.
    const sameAddress = useLink || evidence?.addressHash === hash;
    const mapped = e.group ? topics.get(`${e.provider}:${e.group}`) : undefined;
    out.push({
      ...e,
      address,
      hash,
      contactId: sameAddress ? (evidence?.contactId ?? null) : null,
      campaign: e.campaign || (sameAddress ? (evidence?.campaign ?? null) : null),
      topic: mapped && emailTopics.has(mapped) ? mapped : null,
      via: useLink ? evidence!.via : named ? "provider" : null,
    });
  }
  // Contacts of addresses the provider named (one query).
  const missing = [...new Set(out.filter((r) => r.address && !r.contactId).map((r) => r.address!))];
  if (missing.length > 0) {
    const rows = await db
      .selectFrom("contacts")
      .select(["id", "email"])
      .where("email", "in", missing)
      .where("erased_at", "is", null)
      .orderBy("updated_at", "desc")
      .execute();
    const byEmail = new Map<string, string>();
    for (const r of rows) if (r.email && !byEmail.has(r.email)) byEmail.set(r.email, r.id);
    for (const r of out)
      if (r.address && !r.contactId) r.contactId = byEmail.get(r.address) ?? null;
  }
  return out;
}

function inboundOf(r: Resolved): InboundEvent {
  return {
    provider: r.provider,
    providerMessageId: r.providerEventId.slice(0, 256),
    channel: "email",
    kind: INBOUND_KIND[r.kind as Exclude<EmailEventKind, "delivered">],
    address: r.address,
    addressHash: r.hash,
    contactId: r.contactId,
    campaign: r.campaign,
    details: {
      ...(r.details ?? {}),
      ...(r.detail ? { detail: r.detail.slice(0, 1000) } : {}),
      ...(r.group ? { group: r.group } : {}),
      ...(r.topic ? { topic: r.topic } : {}),
      ...(r.via ? { identifiedBy: r.via } : {}),
    },
  };
}

const SOURCE: Record<"complaint" | "unsubscribe", ConsentSource> = {
  complaint: "complaint",
  unsubscribe: "esp",
};

function markOf(r: Resolved, inboundId: number): Omit<UndeliverableMark, "reason"> {
  return {
    channel: "email",
    hash: r.hash!,
    address: r.address,
    contactId: r.contactId,
    provider: r.provider,
    campaign: r.campaign,
    detail: r.detail ?? null,
    inboundId,
  };
}

/** One event: applyConsentChanges (or a mark), in handleInboundOnce's transaction. */
async function decideOne(
  trx: Trx,
  r: Resolved,
  inboundId: number,
  settings: BounceSettings,
): Promise<InboundOutcome> {
  if (!r.hash) return { decision: "unmatched" };
  if (r.kind === "complaint" || r.kind === "unsubscribe") {
    const source = SOURCE[r.kind];
    // A complaint is about the whole channel, whatever topic the message was for.
    const topic = r.kind === "unsubscribe" ? r.topic : null;
    if (!r.address) {
      // Erased: only the keyed hash names the address; the bulk door suppresses it by hash.
      const res = await bulkUnsubscribe(
        trx,
        [{ channel: "email", address: "", addressHash: r.hash }],
        { source, campaign: r.campaign, details: { provider: r.provider, inbound_id: inboundId } },
      );
      return { decision: res.imported > 0 ? "unsubscribed" : "already_unsubscribed" };
    }
    const change: ConsentChange = {
      channel: "email",
      address: r.address,
      action: topic ? "topic_opt_out" : "unsubscribe",
      topic,
      source,
      contactId: r.contactId,
      campaign: r.campaign,
      actor: { type: "recipient", id: r.contactId },
      // The feedback type stays in the details: reason codes are the operator's own reasons.
      details: {
        provider: r.provider,
        inbound_id: inboundId,
        ...(r.kind === "complaint" && r.detail ? { feedbackType: r.detail.slice(0, 64) } : {}),
      },
    };
    const [res] = await applyConsentChanges(trx, [change]);
    return {
      decision: res!.changed ? (topic ? "topic_opt_out" : "unsubscribed") : "already_unsubscribed",
      ledgerId: res!.ledgerId,
    };
  }
  if (r.kind === "hard_bounce") {
    const marked = await markUndeliverable(trx, [
      { ...markOf(r, inboundId), reason: "hard_bounce" },
    ]);
    return { decision: marked.size > 0 ? "undeliverable" : "already_undeliverable" };
  }
  const marked = await recordSoftBounces(trx, [markOf(r, inboundId)], settings);
  return { decision: marked.size > 0 ? "undeliverable" : "soft_bounce_counted" };
}

/** Many events: the bulk door and set-based marks, in handleInboundManyOnce's transaction. */
async function decideMany(
  trx: Trx,
  claimed: readonly ClaimedInbound[],
  resolved: readonly Resolved[],
  settings: BounceSettings,
): Promise<InboundOutcome[]> {
  const items = claimed.map((c) => ({ c, r: resolved[c.index]! }));
  const outcomes = new Map<number, InboundOutcome>();

  // Unsubscribes through the bulk door, one call per (source, campaign).
  const groups = new Map<string, typeof items>();
  const topicChanges: typeof items = [];
  for (const it of items) {
    const { r } = it;
    if (!r.hash) {
      outcomes.set(it.c.inboundId, { decision: "unmatched" });
    } else if (r.kind === "unsubscribe" && r.topic && r.address) {
      topicChanges.push(it);
    } else if (r.kind === "complaint" || r.kind === "unsubscribe") {
      const k = `${r.kind}\u0000${r.campaign ?? ""}`;
      groups.set(k, [...(groups.get(k) ?? []), it]);
    }
  }
  for (const list of groups.values()) {
    const { r } = list[0]!;
    await bulkUnsubscribe(
      trx,
      list.map(({ r: x }) => ({ channel: "email", address: x.address ?? "", addressHash: x.hash })),
      {
        source: SOURCE[r.kind as "complaint" | "unsubscribe"],
        campaign: r.campaign,
        actor: { type: "recipient" },
        details: { provider: r.provider },
      },
    );
    for (const it of list) outcomes.set(it.c.inboundId, { decision: "unsubscribed" });
  }
  if (topicChanges.length > 0) {
    const results = await applyConsentChanges(
      trx,
      topicChanges.map(({ r, c }) => ({
        channel: "email",
        address: r.address!,
        action: "topic_opt_out",
        topic: r.topic,
        source: "esp",
        contactId: r.contactId,
        campaign: r.campaign,
        actor: { type: "recipient", id: r.contactId },
        details: { provider: r.provider, inbound_id: c.inboundId },
      })),
    );
    topicChanges.forEach((it, i) =>
      outcomes.set(it.c.inboundId, {
        decision: results[i]!.changed ? "topic_opt_out" : "already_unsubscribed",
        ledgerId: results[i]!.ledgerId,
      }),
    );
  }

  const hard = items.filter(({ r }) => r.kind === "hard_bounce" && r.hash);
  const marked = await markUndeliverable(
    trx,
    hard.map(({ r, c }) => ({ ...markOf(r, c.inboundId), reason: "hard_bounce" as const })),
  );
  for (const { r, c } of hard) {
    outcomes.set(c.inboundId, {
      decision: marked.has(`email:${r.hash}`) ? "undeliverable" : "already_undeliverable",
    });
  }
  const soft = items.filter(({ r }) => r.kind === "soft_bounce" && r.hash);
  const softMarked = await recordSoftBounces(
    trx,
    soft.map(({ r, c }) => markOf(r, c.inboundId)),
    settings,
  );
  for (const { r, c } of soft) {
    outcomes.set(c.inboundId, {
      decision: softMarked.has(`email:${r.hash}`) ? "undeliverable" : "soft_bounce_counted",
    });
  }
  return claimed.map((c) => outcomes.get(c.inboundId) ?? { decision: "ignored" });
}

/** Decides on what an email provider reported. See the comment at the top of this file. */
export async function handleEmailEvents(
  db: Db,
  events: readonly EmailEvent[],
): Promise<EmailEventsResult> {
  const settings = await getBounceSettings(db);
  const counted = !!settings.softBounceLimit;
  const delivered = events.filter((e) => e.kind === "delivered");
  const stored = events.filter(
    (e) => e.kind !== "delivered" && (e.kind !== "soft_bounce" || counted),
  );
  const result: EmailEventsResult = {
    accepted: 0,
    duplicates: 0,
    skipped: events.length - stored.length,
    unmatched: 0,
  };
  if (counted && delivered.length > 0) {
    const targets = delivered.flatMap((e) => {
      const n = e.address ? normalizeEmail(e.address) : null;
      return n?.ok ? [{ channel: "email" as const, hash: addressKey(n.address) }] : [];
    });
    await db.transaction().execute((trx) => resetSoftBounces(trx, targets));
  }
  if (stored.length === 0) return result;
  const resolved = await resolve(db, stored);
  const outcomes =
    resolved.length === 1
      ? [
          await handleInboundOnce(db, inboundOf(resolved[0]!), (trx, id) =>
            decideOne(trx, resolved[0]!, id, settings),
          ),
        ]
      : await handleInboundManyOnce(db, resolved.map(inboundOf), (trx, claimed) =>
          decideMany(trx, claimed, resolved, settings),
        );
  for (const o of outcomes) {
    if (o.duplicate) result.duplicates++;
    else {
      result.accepted++;
      if (o.decision === "unmatched") result.unmatched++;
    }
  }
  return result;
}
