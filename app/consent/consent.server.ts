import { sql } from "kysely";

import { inTransaction, type Db, type Trx } from "~/db/db.server";

import type {
  ActorType,
  Channel,
  ChannelStatus,
  ConsentSource,
  LedgerAction,
  TopicStatus,
} from "~/db/schema";
import { getEnv } from "~/env.server";

import { getSecrets } from "~/secrets.server";

import { hashAddress, normalizeAddress, type InvalidReason } from "~/consent/address.server";

import { enqueueConsentEvent } from "~/webhooks/enqueue.server";

/**
 * The one door for consent (docs/consent.md#the-one-door). Every change, whatever its source, goes
 * through applyConsentChanges, which writes the ledger row and the current state in one
 * transaction; every send decision goes through decideSendMany. The rest of this module holds the
 * other ways in, which keep the same rules: the bulk door (bulk.server.ts: set-based unsubscribes
 * for imports), double opt-in (double-opt-in.server.ts, which confirms through
 * applyConsentChanges) and erasure (erasure.server.ts). Nothing outside app/consent/ writes
 * channel_consent, topic_consent or consent_ledger (tests/unit/consent-door.test.ts).
 */

export type ChangeAction = Exclude<LedgerAction, "erase">;

export type ConsentChange = {
  channel: Channel;
  /** Raw or normalized; normalized here. */
  address: string;
  action: ChangeAction;
  /** Required for topic_opt_in / topic_opt_out, refused for the others. */
  topic?: string | null;
  /** Required for pause: when the pause ends (must be in the future). */
  pausedUntil?: Date | null;
  source: ConsentSource;
  contactId?: string | null;
  campaign?: string | null;
  reasonCode?: string | null;
  reasonText?: string | null;
  actor?: { type: ActorType; id?: string | null } | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Evidence kept with the ledger row (double opt-in request id, message hash, ...). */
  details?: Record<string, unknown>;
};

export type ChangeResult = {
  channel: Channel;
  address: string;
  action: ChangeAction;
  topic: string | null;
  /** false when the request asked for the state the address already had (idempotent repeat). */
  changed: boolean;
  ledgerId: number | null;
  status: ChannelStatus | null;
  pausedUntil: Date | null;
  topicStatus: TopicStatus | null;
};

export type ConsentErrorCode =
  | "invalid_address"
  | "unknown_topic"
  | "topic_required"
  | "topic_not_allowed"
  | "double_opt_in_required"
  | "note_required"
  | "invalid_pause"
  | "channel_unsubscribed";

export class ConsentError extends Error {
  constructor(
    readonly code: ConsentErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ConsentError";
  }
}

/** Sources through which a person (or an operator on record) re-subscribes directly. */
const DIRECT_RESUBSCRIBE_SOURCES: ReadonlySet<ConsentSource> = new Set([
  "double_opt_in",
  "sms_keyword",
  "admin",
]);

const TOPIC_ACTIONS: ReadonlySet<ChangeAction> = new Set(["topic_opt_in", "topic_opt_out"]);

export function addressKey(address: string): string {
  return hashAddress(getSecrets().addressHashKey, address);
}

export function normalizeOrThrow(channel: Channel, raw: string): string {
  const n = normalizeAddress(channel, raw, getEnv().DEFAULT_PHONE_REGION);
  if (!n.ok) {
    throw new ConsentError("invalid_address", `Invalid ${channel} address (${n.reason})`, {
      reason: n.reason,
    });
  }
  return n.address;
}

type Prepared = ConsentChange & { address: string; hash: string; topic: string | null };

function prepare(change: ConsentChange): Prepared {
  const address = normalizeOrThrow(change.channel, change.address);
  const topic = change.topic ?? null;
  if (TOPIC_ACTIONS.has(change.action) && !topic) {
    throw new ConsentError("topic_required", `${change.action} needs a topic`);
  }
  if (!TOPIC_ACTIONS.has(change.action) && topic) {
    throw new ConsentError("topic_not_allowed", `${change.action} applies to a whole channel`);
  }
  if (change.action === "pause") {
    if (!change.pausedUntil || change.pausedUntil.getTime() <= Date.now()) {
      throw new ConsentError("invalid_pause", "A pause needs an end date in the future");
    }
  }
  // An operator's note is kept in details.note (older callers passed it as reasonText).
  const note = typeof change.details?.note === "string" ? change.details.note : "";
  if (
    change.source === "admin" &&
    change.action === "subscribe" &&
    !note.trim() &&
    !change.reasonText?.trim()
  ) {
    throw new ConsentError("note_required", "Removing a suppression needs a note");
  }
  return { ...change, address, hash: addressKey(address), topic };
}

type ChannelRow = { status: ChannelStatus; paused_until: Date | null };

async function lockChannelRow(trx: Trx, channel: Channel, hash: string) {
  return trx
    .selectFrom("channel_consent")
    .select(["status", "paused_until"])
    .where("channel", "=", channel)
    .where("address_hash", "=", hash)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Decides what the change does to the current row. Returns null for "no change" (an idempotent
 * repeat), or the new channel status/pause.
 */
function nextChannelState(
  c: Prepared,
  cur: ChannelRow | undefined,
  now: number,
): { status: ChannelStatus; paused_until: Date | null } | null {
  const paused = cur?.paused_until ? cur.paused_until.getTime() > now : false;
  switch (c.action) {
    case "unsubscribe":
      return cur?.status === "unsubscribed" ? null : { status: "unsubscribed", paused_until: null };
    case "subscribe": {
      const blocked = cur?.status === "unsubscribed" || cur?.status === "pending";
      if (blocked && !DIRECT_RESUBSCRIBE_SOURCES.has(c.source)) {
        throw new ConsentError(
          "double_opt_in_required",
          "Re-subscribing needs a confirmed double opt-in",
        );
      }
      if (!cur)
        return c.source === "double_opt_in" ? { status: "subscribed", paused_until: null } : null;
      if (cur.status === "subscribed" && !paused) return null;
      return { status: "subscribed", paused_until: null };
    }
    case "signup_pending":
      return cur ? null : { status: "pending", paused_until: null };
    case "pause":
      if (cur?.status === "unsubscribed") {
        throw new ConsentError("channel_unsubscribed", "An unsubscribed channel cannot be paused");
      }
      if (cur?.paused_until?.getTime() === c.pausedUntil!.getTime()) return null;
      return { status: cur?.status ?? "subscribed", paused_until: c.pausedUntil! };
    case "resume":
      return cur && paused ? { status: cur.status, paused_until: null } : null;
    default:
      return null;
  }
}

type Plan = {
  changed: boolean;
  channel: ChannelRow;
  topic: TopicStatus | null;
  curTopic: TopicStatus | null;
};

async function planChange(
  trx: Trx,
  c: Prepared,
  cur: ChannelRow | undefined,
  topicDefaults: Map<string, boolean>,
  now: number,
): Promise<Plan> {
  const curChannel: ChannelRow = cur ?? { status: "subscribed", paused_until: null };
  if (!TOPIC_ACTIONS.has(c.action)) {
    const next = nextChannelState(c, cur, now);
    return { changed: next !== null, channel: next ?? curChannel, topic: null, curTopic: null };
  }
  const row = await trx
    .selectFrom("topic_consent")
    .select("status")
    .where("channel", "=", c.channel)
    .where("address_hash", "=", c.hash)
    .where("topic", "=", c.topic!)
    .executeTakeFirst();
  const curTopic = row?.status ?? null;
  let topic: TopicStatus | null = null;
  if (c.action === "topic_opt_in") {
    const effectiveIn = curTopic ? curTopic === "opted_in" : topicDefaults.get(c.topic!)!;
    if (!effectiveIn) topic = "opted_in";
  } else if (curTopic !== "opted_out") {
    // An explicit opt-out is recorded even where the topic is off by default, so that it
    // survives a later change of the topic's default.
    topic = "opted_out";
  }
  return { changed: topic !== null, channel: curChannel, topic, curTopic };
}

async function applyOne(
  trx: Trx,
  c: Prepared,
  topicDefaults: Map<string, boolean>,
): Promise<ChangeResult> {
  const now = Date.now();
  // The channel row's lock serializes every change of this address across transactions.
  let cur = await lockChannelRow(trx, c.channel, c.hash);
  let plan = await planChange(trx, c, cur, topicDefaults, now);

  if (plan.changed && !cur) {
    // First time Heed records this address on this channel. A concurrent transaction may be
    // creating the same row: then wait for it (the lock), and decide again on what it wrote.
    const inserted = await trx
      .insertInto("channel_consent")
      .values({
        channel: c.channel,
        address_hash: c.hash,
        address: c.address,
        status: plan.channel.status,
        paused_until: plan.channel.paused_until,
      })
      .onConflict((oc) => oc.columns(["channel", "address_hash"]).doNothing())
      .returning("channel")
      .executeTakeFirst();
    if (!inserted) {
      cur = await lockChannelRow(trx, c.channel, c.hash);
      plan = await planChange(trx, c, cur, topicDefaults, now);
    }
  }

  const result = {
    channel: c.channel,
    address: c.address,
    action: c.action,
    topic: c.topic,
    status: plan.changed || cur ? plan.channel.status : null,
    pausedUntil: plan.channel.paused_until,
    topicStatus: plan.topic ?? plan.curTopic,
  };
  if (!plan.changed) return { ...result, changed: false, ledgerId: null };

  const ledger = await trx
    .insertInto("consent_ledger")
    .values({
      channel: c.channel,
      address_hash: c.hash,
      address: c.address,
      contact_id: c.contactId ?? null,
      topic: c.topic,
      action: c.action,
      source: c.source,
      campaign: c.campaign ?? null,
      reason_code: c.reasonCode ?? null,
      reason_text: c.reasonText?.trim() || null,
      actor_type: c.actor?.type ?? null,
      actor_id: c.actor?.id ?? null,
      ip: c.ip ?? null,
      user_agent: c.userAgent ?? null,
      paused_until: c.action === "pause" ? c.pausedUntil! : null,
      details: JSON.stringify(c.details ?? {}),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  // Outbound webhooks (docs/api.md): one delivery per subscribed endpoint, in this transaction.
  await enqueueConsentEvent(trx, ledger.id, c.action);

  await trx
    .updateTable("channel_consent")
    .set({
      status: plan.channel.status,
      paused_until: plan.channel.paused_until,
      address: c.address,
      last_ledger_id: ledger.id,
      updated_at: sql<Date>`now()`,
    })
    .where("channel", "=", c.channel)
    .where("address_hash", "=", c.hash)
    .execute();

  if (plan.topic) {
    await trx
      .insertInto("topic_consent")
      .values({
        channel: c.channel,
        address_hash: c.hash,
        topic: c.topic!,
        status: plan.topic,
        last_ledger_id: ledger.id,
      })
      .onConflict((oc) =>
        oc.columns(["channel", "address_hash", "topic"]).doUpdateSet({
          status: plan.topic!,
          last_ledger_id: ledger.id,
          updated_at: sql<Date>`now()`,
        }),
      )
      .execute();
  }
  return { ...result, changed: true, ledgerId: ledger.id };
}

/**
 * Applies several changes atomically (a preference-page save, "unsubscribe from all"): all of
 * them or none. Repeating an identical request changes nothing and writes no ledger row.
 */
export async function applyConsentChanges(
  db: Db,
  changes: readonly ConsentChange[],
): Promise<ChangeResult[]> {
  const prepared = changes.map(prepare);
  if (prepared.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const topicKeys = [...new Set(prepared.map((c) => c.topic).filter((t): t is string => !!t))];
    const topicDefaults = new Map<string, boolean>();
    if (topicKeys.length > 0) {
      const rows = await trx
        .selectFrom("topics")
        .select(["key", "default_opt_in"])
        .where("key", "in", topicKeys)
        .execute();
      for (const r of rows) topicDefaults.set(r.key, r.default_opt_in);
      const unknown = topicKeys.filter((k) => !topicDefaults.has(k));
      if (unknown.length > 0) {
        throw new ConsentError("unknown_topic", `Unknown topic: ${unknown.join(", ")}`, {
          topics: unknown,
        });
      }
    }
    // Lock existing rows in one global order first, so two multi-address saves cannot deadlock.
    const keys = [...new Set(prepared.map((c) => `${c.channel}\u0000${c.hash}`))].sort();
    if (keys.length > 1) {
      for (const k of keys) {
        const [channel, hash] = k.split("\u0000") as [Channel, string];
        await lockChannelRow(trx, channel, hash);
      }
    }
    const results: ChangeResult[] = [];
    for (const c of prepared) results.push(await applyOne(trx, c, topicDefaults));
    return results;
  });
}

export async function applyConsentChange(db: Db, change: ConsentChange): Promise<ChangeResult> {
  const [result] = await applyConsentChanges(db, [change]);
  return result!;
}

// ---------------------------------------------------------------------------------------------
// Send decisions (docs/consent.md#send-decisions)

export type Category = "marketing" | "transactional";
export type DenyReason =
  | "undeliverable"
  | "unsubscribed"
  | "pending_confirmation"
  | "paused"
  | "topic_unsubscribed"
  | "not_opted_in"
  | "invalid_address";
export type SendDecision = { address: string; allowed: boolean; reason?: DenyReason };

export type DecideInput = {
  channel: Channel;
  topic?: string | null;
  category: Category;
  addresses: readonly string[];
};

/**
 * Decides for many addresses in one set-based query (unnest with ordinality), answering in the
 * order asked (transactional mail first asks whether the channel has any undeliverable mark at
 * all). Order of rules: undeliverable (a hard bounce; marketing and transactional alike);
 * transactional → allowed; unsubscribed; pending confirmation; paused; topic opted out;
 * default-off topic without opt-in; else allowed.
 */
export async function decideSendMany(db: Db, input: DecideInput): Promise<SendDecision[]> {
  const { channel, category, addresses } = input;
  const topic = input.topic ?? null;
  let topicDefaultIn = true;
  if (topic) {
    const row = await db
      .selectFrom("topics")
      .select("default_opt_in")
      .where("key", "=", topic)
      .executeTakeFirst();
    if (!row)
      throw new ConsentError("unknown_topic", `Unknown topic: ${topic}`, { topics: [topic] });
    topicDefaultIn = row.default_opt_in;
  }
  const region = getEnv().DEFAULT_PHONE_REGION;
  const key = getSecrets().addressHashKey;
  const normalized = addresses.map((raw) => normalizeAddress(channel, raw, region));
  if (category === "transactional") {
    // Transactional mail only needs the undeliverable marks, and most installs have none on most
    // channels: one index probe tells, and then there is nothing to hash or look up.
    const marks = await sql<{ any: boolean }>`
      select exists (select 1 from undeliverable_addresses where channel = ${channel}) as any
    `.execute(db);
    if (marks.rows[0]?.any !== true) {
      return addresses.map((address, i) =>
        normalized[i]!.ok
          ? { address, allowed: true }
          : { address, allowed: false, reason: "invalid_address" },
      );
    }
  }
  const hashes = normalized.map((n) => (n.ok ? hashAddress(key, n.address) : ""));
  const valid = hashes.filter((h) => h !== "");
  const byHash = new Map<string, SendState>();
  if (valid.length > 0) {
    // One set-based statement; only the addresses Heed holds something for come back.
    const rows =
      category === "transactional"
        ? await sql<{ h: string }>`
            select i.h
            from unnest(${valid}::text[]) as i(h)
            join undeliverable_addresses ua on ua.channel = ${channel} and ua.address_hash = i.h
          `.execute(db)
        : await sql<{
            h: string;
            undeliverable: boolean;
            status: ChannelStatus | null;
            paused: boolean | null;
            topic_status: TopicStatus | null;
          }>`
            select i.h, ua.address_hash is not null as undeliverable, cc.status,
              cc.paused_until > now() as paused, tc.status as topic_status
            from unnest(${valid}::text[]) as i(h)
            left join channel_consent cc on cc.channel = ${channel} and cc.address_hash = i.h
            left join topic_consent tc on ${topic}::text is not null
              and tc.channel = ${channel} and tc.address_hash = i.h and tc.topic = ${topic}
            left join undeliverable_addresses ua on ua.channel = ${channel} and ua.address_hash = i.h
            where cc.address_hash is not null or tc.address_hash is not null
              or ua.address_hash is not null
          `.execute(db);
    for (const r of rows.rows as {
      h: string;
      undeliverable?: boolean;
      status?: ChannelStatus | null;
      paused?: boolean | null;
      topic_status?: TopicStatus | null;
    }[]) {
      byHash.set(r.h, {
        // Transactional rows come from the join with the marks: each one is undeliverable.
        undeliverable: r.undeliverable ?? category === "transactional",
        status: r.status ?? null,
        paused: r.paused === true,
        topic: r.topic_status ?? null,
      });
    }
  }
  return addresses.map((address, i) => {
    const n = normalized[i] as { ok: boolean; reason?: InvalidReason };
    if (!n.ok) return { address, allowed: false, reason: "invalid_address" };
    const s = byHash.get(hashes[i]!);
    if (s?.undeliverable) return { address, allowed: false, reason: "undeliverable" };
    if (category === "transactional") return { address, allowed: true };
    const reason = denyReason(s, topic, topicDefaultIn);
    return reason ? { address, allowed: false, reason } : { address, allowed: true };
  });
}

type SendState = {
  undeliverable: boolean;
  status: ChannelStatus | null;
  paused: boolean;
  topic: TopicStatus | null;
};

function denyReason(
  s: SendState | undefined,
  topic: string | null,
  topicDefaultIn: boolean,
): DenyReason | undefined {
  if (s?.status === "unsubscribed") return "unsubscribed";
  if (s?.status === "pending") return "pending_confirmation";
  if (s?.paused) return "paused";
  if (topic) {
    if (s?.topic === "opted_out") return "topic_unsubscribed";
    if (!topicDefaultIn && s?.topic !== "opted_in") return "not_opted_in";
  }
  return undefined;
}

export async function decideSend(
  db: Db,
  input: { channel: Channel; address: string; topic?: string | null; category: Category },
): Promise<SendDecision> {
  const [d] = await decideSendMany(db, { ...input, addresses: [input.address] });
  return d!;
}

// ---------------------------------------------------------------------------------------------
// Reading state (preference page, admin, API)

export type AddressConsent = {
  channel: Channel;
  address: string;
  /** null: Heed has never recorded anything for this address (treated as subscribed). */
  status: ChannelStatus | null;
  pausedUntil: Date | null;
  topics: Record<string, TopicStatus>;
};

export async function readConsent(
  db: Db,
  targets: readonly { channel: Channel; address: string }[],
): Promise<AddressConsent[]> {
  if (targets.length === 0) return [];
  const prepared = targets.map((t) => {
    const address = normalizeOrThrow(t.channel, t.address);
    return { channel: t.channel, address, hash: addressKey(address) };
  });
  const hashes = prepared.map((p) => p.hash);
  // The channel condition lets both lookups use their primary key (channel, address_hash, ...);
  // on the hash alone they scan the whole table.
  const channelList = [...new Set(prepared.map((p) => p.channel))];
  const [channels, topics] = await Promise.all([
    db
      .selectFrom("channel_consent")
      .select(["channel", "address_hash", "status", "paused_until"])
      .where("channel", "in", channelList)
      .where("address_hash", "in", hashes)
      .execute(),
    db
      .selectFrom("topic_consent")
      .select(["channel", "address_hash", "topic", "status"])
      .where("channel", "in", channelList)
      .where("address_hash", "in", hashes)
      .execute(),
  ]);
  return prepared.map((p) => {
    const row = channels.find((r) => r.channel === p.channel && r.address_hash === p.hash);
    const paused =
      row?.paused_until && row.paused_until.getTime() > Date.now() ? row.paused_until : null;
    return {
      channel: p.channel,
      address: p.address,
      status: row?.status ?? null,
      pausedUntil: paused,
      topics: Object.fromEntries(
        topics
          .filter((t) => t.channel === p.channel && t.address_hash === p.hash)
          .map((t) => [t.topic, t.status]),
      ),
    };
  });
}
