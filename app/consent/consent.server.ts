import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { sql } from "kysely";

import { inTransaction, preparedStatement, type Db, type Trx } from "~/db/db.server";
import { nextTurn } from "~/db/priority.server";

import type {
  ActorType,
  Channel,
  ChannelStatus,
  ConsentSource,
  LedgerAction,
  TopicStatus,
} from "~/db/schema";
import { CHANNELS } from "~/db/schema";

import { getSecrets } from "~/secrets.server";

import {
  ADDRESS_HASH_LENGTH,
  hashAddress,
  normalizeAddress,
  writeAddressHash,
} from "~/consent/address.server";

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
  /**
   * Raw or normalized; normalized here. Empty or null only with `addressHash`: an address known
   * by its keyed hash alone (a link whose contact was deleted or erased); its ledger row then has
   * no address, and the state row keeps whatever address it had.
   */
  address: string | null;
  /** The address's keyed hash (addressKey), used when `address` is empty. */
  addressHash?: string | null;
  action: ChangeAction;
  /** Required for topic_opt_in / topic_opt_out, refused for the others. */
  topic?: string | null;
  /** Required for pause: when the pause ends (must be in the future). */
  pausedUntil?: Date | null;
  /** Required for frequency: the key of one of the channel's frequency options. */
  frequency?: string | null;
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
  /** Empty for a change made by the address's hash alone. */
  address: string;
  addressHash: string;
  action: ChangeAction;
  topic: string | null;
  /** false when the request asked for the state the address already had (idempotent repeat). */
  changed: boolean;
  ledgerId: number | null;
  status: ChannelStatus | null;
  pausedUntil: Date | null;
  topicStatus: TopicStatus | null;
  /** The address's frequency choice on this channel after the change (null: none recorded). */
  frequency: string | null;
};

export type ConsentErrorCode =
  | "invalid_address"
  | "unknown_topic"
  | "topic_required"
  | "topic_not_allowed"
  | "double_opt_in_required"
  | "note_required"
  | "invalid_pause"
  | "channel_unsubscribed"
  | "frequency_required"
  | "unknown_frequency";

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
  const n = normalizeAddress(channel, raw, defaultPhoneRegion());
  if (!n.ok) {
    throw new ConsentError("invalid_address", `Invalid ${channel} address (${n.reason})`, {
      reason: n.reason,
    });
  }
  return n.address;
}

type Prepared = ConsentChange & {
  address: string | null;
  hash: string;
  topic: string | null;
  frequency: string | null;
};

/** A keyed address hash as addressKey makes it (HMAC-SHA256, base64url). */
export const ADDRESS_HASH_RE = /^[A-Za-z0-9_-]{43}$/;

function prepare(change: ConsentChange): Prepared {
  const byHash = !change.address && change.addressHash ? change.addressHash : null;
  if (byHash !== null && !ADDRESS_HASH_RE.test(byHash)) {
    throw new ConsentError("invalid_address", "Invalid address hash");
  }
  if (byHash !== null && (change.action === "subscribe" || change.action === "signup_pending")) {
    // Subscribing needs an address to confirm with (rule 5); a hash alone can only opt out.
    throw new ConsentError("invalid_address", `${change.action} needs an address`);
  }
  const address = byHash === null ? normalizeOrThrow(change.channel, change.address ?? "") : null;
  const topic = change.topic ?? null;
  if (TOPIC_ACTIONS.has(change.action) && !topic) {
    throw new ConsentError("topic_required", `${change.action} needs a topic`);
  }
  if (!TOPIC_ACTIONS.has(change.action) && topic) {
    throw new ConsentError("topic_not_allowed", `${change.action} applies to a whole channel`);
  }
  if (change.action === "frequency" && !change.frequency) {
    throw new ConsentError("frequency_required", "frequency needs a frequency option");
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
  return {
    ...change,
    address,
    hash: byHash ?? addressKey(address!),
    topic,
    frequency: change.action === "frequency" ? change.frequency! : null,
  };
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
  /** The frequency choice after the change (frequency actions only). */
  frequency?: string | null;
};

/** Frequency options named by a batch of changes: `${channel}\0${key}` → window in days. */
type FrequencyWindows = Map<string, number | null>;

async function planChange(
  trx: Trx,
  c: Prepared,
  cur: ChannelRow | undefined,
  topicDefaults: Map<string, boolean>,
  now: number,
): Promise<Plan> {
  const curChannel: ChannelRow = cur ?? { status: "subscribed", paused_until: null };
  if (c.action === "frequency") {
    // A frequency choice changes neither the channel's status nor its topics (docs/consent.md).
    const row = await trx
      .selectFrom("frequency_consent")
      .select("frequency")
      .where("channel", "=", c.channel)
      .where("address_hash", "=", c.hash)
      .executeTakeFirst();
    const changed = row?.frequency !== c.frequency;
    return { changed, channel: curChannel, topic: null, curTopic: null, frequency: c.frequency };
  }
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
  windows: FrequencyWindows,
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
    address: c.address ?? "",
    addressHash: c.hash,
    action: c.action,
    topic: c.topic,
    status: plan.changed || cur ? plan.channel.status : null,
    pausedUntil: plan.channel.paused_until,
    topicStatus: plan.topic ?? plan.curTopic,
    frequency: plan.frequency ?? null,
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
      frequency: c.frequency,
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
      address: c.address ?? sql<string | null>`address`,
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
  if (c.action === "frequency") {
    // The window is kept as chosen: editing the option later does not change what was agreed.
    const windowDays = windows.get(`${c.channel}\u0000${c.frequency}`) ?? null;
    await trx
      .insertInto("frequency_consent")
      .values({
        channel: c.channel,
        address_hash: c.hash,
        frequency: c.frequency!,
        window_days: windowDays,
        last_ledger_id: ledger.id,
      })
      .onConflict((oc) =>
        oc.columns(["channel", "address_hash"]).doUpdateSet({
          frequency: c.frequency!,
          window_days: windowDays,
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
    const windows: FrequencyWindows = new Map();
    const asked = prepared.filter((c) => c.action === "frequency");
    if (asked.length > 0) {
      const rows = await trx
        .selectFrom("frequency_options")
        .select(["channel", "key", "window_days"])
        .where(
          "channel",
          "in",
          asked.map((c) => c.channel),
        )
        .where(
          "key",
          "in",
          asked.map((c) => c.frequency!),
        )
        .execute();
      for (const r of rows) windows.set(`${r.channel}\u0000${r.key}`, r.window_days);
      const unknown = asked.filter((c) => !windows.has(`${c.channel}\u0000${c.frequency}`));
      if (unknown.length > 0) {
        throw new ConsentError(
          "unknown_frequency",
          `Unknown frequency: ${unknown.map((c) => `${c.channel} ${c.frequency}`).join(", ")}`,
          { frequencies: unknown.map((c) => c.frequency) },
        );
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
    for (const c of prepared) results.push(await applyOne(trx, c, topicDefaults, windows));
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
  | "invalid_address"
  | "frequency_capped";
export type SendDecision = { address: string; allowed: boolean; reason?: DenyReason };

export type DecideInput = {
  channel: Channel;
  topic?: string | null;
  category: Category;
  addresses: readonly string[];
  /**
   * The campaign being sent: sends of the same campaign never cap each other (a retried check
   * answers the same), and with `record` each allowed recipient's send is recorded for it.
   */
  campaign?: string | null;
  /** Record a send (marketing, with a campaign) for each allowed recipient: send_log. */
  record?: boolean;
};

/**
 * Decides for many addresses in one set-based query (unnest with ordinality), answering in the
 * order asked (transactional mail first asks whether the channel has any undeliverable mark at
 * all). Order of rules: undeliverable (a hard bounce; marketing and transactional alike);
 * transactional → allowed; unsubscribed; pending confirmation; paused; topic opted out;
 * default-off topic without opt-in; a recorded send of another campaign inside the address's frequency window; else allowed.
 */
export async function decideSendMany(db: Db, input: DecideInput): Promise<SendDecision[]> {
  const { channel, category, addresses } = input;
  const topic = input.topic ?? null;
  const campaign = input.campaign ?? null;
  const region = defaultPhoneRegion();
  const key = getSecrets().addressHashKey;
  // What the lookups need to know first, in one statement: the topic's default, and whether the
  // channel has any undeliverable mark or frequency choice at all (most installs have none on
  // most channels, and then the lookups do not probe those tables address by address).
  const tablesAnswer = sendCheckTables(db, channel, topic);
  let tables: SendCheckTables | null = null;
  let topicDefaultIn = true;
  if (topic || category === "transactional") {
    tables = await tablesAnswer;
    if (topic) {
      if (tables.topicDefaultIn === null)
        throw new ConsentError("unknown_topic", `Unknown topic: ${topic}`, { topics: [topic] });
      topicDefaultIn = tables.topicDefaultIn;
    }
    if (category === "transactional" && !tables.undeliverable) {
      // Transactional mail only needs the undeliverable marks: with none on the channel there
      // is nothing to hash or look up.
      return addresses.map((address) =>
        normalizeAddress(channel, address, region).ok
          ? { address, allowed: true }
          : { address, allowed: false, reason: "invalid_address" },
      );
    }
  } else if (addresses.length > 100) {
    // A statement is only sent once this function lets go of the thread (taking a pool
    // connection and writing the query happen in callbacks): one turn, and the tables statement
    // runs while the first chunk is hashed instead of after it. (For a few addresses the hashing
    // is shorter than the turn.)
    await nextTurn();
  }
  // Hashing is most of the CPU of a large check. The addresses are hashed and looked up in
  // chunks: a chunk's lookup runs in the database (another process, or PGlite's worker thread)
  // while the next chunk is hashed here, so the two halves overlap instead of adding up.
  // Each chunk's hashes are written as text straight into its statement's parameter (`h1,h2,…`),
  // and the answers come back by position, so no hash becomes a string of its own (decision
  // 0116). keys[i] is the normalized address at position i ("" when it does not normalize): the
  // answers are kept by it, so positions holding the same address get one answer.
  const keys: string[] = new Array<string>(addresses.length);
  const byAddress = new Map<string, SendState>();
  // Only a check that records sends needs the hashes again, for send_log: by position.
  const hashes: string[] | null = input.record ? new Array<string>(addresses.length) : null;
  const lookups: Promise<void>[] = [];
  const step = ADDRESS_HASH_LENGTH + 1;
  let text: Buffer | null = null;
  for (let start = 0; start < addresses.length; start += CHECK_CHUNK) {
    const end = Math.min(addresses.length, start + CHECK_CHUNK);
    text ??= Buffer.allocUnsafe(Math.min(addresses.length, CHECK_CHUNK) * step);
    const chunk: string[] = [];
    let length = 0;
    for (let i = start; i < end; i++) {
      const n = normalizeAddress(channel, addresses[i]!, region);
      if (!n.ok) {
        keys[i] = "";
        continue;
      }
      keys[i] = n.address;
      chunk.push(n.address);
      writeAddressHash(key, n.address, text, length);
      text[length + ADDRESS_HASH_LENGTH] = COMMA;
      length += step;
    }
    if (chunk.length > 0) {
      const list = text.toString("latin1", 0, length - 1);
      if (hashes) {
        for (let i = start, at = 0; i < end; i++) {
          if (keys[i] === "") continue;
          hashes[i] = list.slice(at, at + ADDRESS_HASH_LENGTH);
          at += step;
        }
      }
      // The first chunk was hashed while the tables statement ran.
      tables ??= await tablesAnswer;
      lookups.push(
        lookupSendStates(
          db,
          { channel, category, topic, campaign, list, keys: chunk, tables },
          byAddress,
        ),
      );
      // Let the statement leave before hashing the next chunk (see the turn above): without
      // this every chunk's statement was sent only after the last chunk was hashed, and the
      // database waited for all of the hashing (docs/decisions/0116).
      if (end < addresses.length) await nextTurn();
    }
  }
  // Nothing was looked up (every address invalid): the tables statement is still awaited.
  tables ??= await tablesAnswer;
  await Promise.all(lookups);
  const decisions = addresses.map((address, i): SendDecision => {
    const k = keys[i]!;
    if (k === "") return { address, allowed: false, reason: "invalid_address" };
    const s = byAddress.get(k);
    if (s?.undeliverable) return { address, allowed: false, reason: "undeliverable" };
    if (category === "transactional") return { address, allowed: true };
    const reason = denyReason(s, topic, topicDefaultIn);
    return reason ? { address, allowed: false, reason } : { address, allowed: true };
  });
  if (hashes && campaign && category === "marketing") {
    // One statement for the whole batch: a send for each allowed recipient (the first check of a
    // campaign sets the time; a repeat of the same campaign records nothing new).
    const sent = [...new Set(hashes.filter((h, i) => keys[i] !== "" && decisions[i]!.allowed))];
    if (sent.length > 0) {
      await sql`
        insert into send_log (channel, address_hash, campaign)
        select ${channel}, h, ${campaign} from unnest(${sent}::text[]) as t(h)
        on conflict (channel, address_hash, campaign) do nothing
      `.execute(db);
    }
  }
  return decisions;
}

type SendCheckTables = {
  /** The topic's default_opt_in; null when there is no such topic (or no topic was asked). */
  topicDefaultIn: boolean | null;
  /** The channel has at least one undeliverable mark. */
  undeliverable: boolean;
  /** At least one address chose a frequency on the channel. */
  frequency: boolean;
};

/** What a send check needs to know before its lookups, in one statement (index probes only). */
async function sendCheckTables(
  db: Db,
  channel: Channel,
  topic: string | null,
): Promise<SendCheckTables> {
  const { rows } = await sql<{
    topic_default: boolean | null;
    undeliverable: boolean;
    frequency: boolean;
  }>`
    select (select default_opt_in from topics where key = ${topic}::text) as topic_default,
      exists (select 1 from undeliverable_addresses where channel = ${channel}) as undeliverable,
      exists (select 1 from frequency_consent where channel = ${channel}) as frequency
  `.execute(db);
  const r = rows[0]!;
  return {
    topicDefaultIn: r.topic_default ?? null,
    undeliverable: r.undeliverable === true,
    frequency: r.frequency === true,
  };
}

/** Addresses per lookup statement of a send check (see decideSendMany; exported for tests). */
export const CHECK_CHUNK = 2_500;

/**
 * What Heed holds for these hashes (only the addresses it holds something for come back), into
 * `out`. One statement; each address is an index probe (LATERAL … LIMIT 1), never a hash join
 * over the whole table, however many addresses the tables hold
 * (docs/decisions/0095-send-check-hashing-and-covering-key.md):
 *
 * - the hashes travel as one text parameter (`h1,h2,…`: base64url has no comma), which the
 *   database splits, instead of an array literal that node-postgres escapes and the database
 *   parses element by element;
 * - channel_consent is probed through a hash index on `channel || ':' || address_hash`, an
 *   expression only this probe writes (decision 0118): one bucket page per address instead of
 *   the four pages of a descent of the btree key, which the planner would otherwise choose;
 * - the tables most installs hold nothing in for the channel (undeliverable marks, frequency
 *   choices) are joined only when they hold a row for it (sendCheckTables): no probe per address
 *   into an empty index, and a statement the planner costs low enough not to JIT-compile;
 *   topic_consent only when a topic was asked (decision 0116);
 * - the answer is one text value of positions and state codes (readSendStates), not a row per
 *   address with its hash (decision 0116).
 */
async function lookupSendStates(
  db: Db,
  input: {
    channel: Channel;
    category: Category;
    topic: string | null;
    campaign: string | null;
    /** The chunk's hashes, `h1,h2,…` (base64url has no comma). */
    list: string;
    /** The normalized address of each hash in `list`, in the same order. */
    keys: readonly string[];
    tables: SendCheckTables;
  },
  out: Map<string, SendState>,
): Promise<void> {
  const { channel, topic, campaign, list, keys, tables } = input;
  if (input.category === "transactional") {
    const { rows } = await sql<{ positions: string | null }>`
      select string_agg(i.n::text, ',') as positions
      from unnest(string_to_array(${list}::text, ',')) with ordinality as i(h, n)
      cross join lateral (
        select 1 from undeliverable_addresses ua
        where ua.address_hash = i.h and ua.channel = ${channel}
        limit 1
      ) ua
    `.execute(db);
    // Transactional answers come from the marks: each one is undeliverable.
    const positions = rows[0]?.positions;
    if (positions) {
      for (const p of positions.split(",")) {
        const k = keys[Number(p) - 1];
        if (k === undefined) throw new Error(`send check: unreadable lookup answer ${p}`);
        out.set(k, {
          undeliverable: true,
          status: null,
          paused: false,
          topic: null,
          capped: false,
        });
      }
    }
    return;
  }
  // One text value answers the whole chunk: for each address Heed holds something for, its
  // position in `list` (1-based) and five characters, entries separated by commas (see
  // readSendStates). Rows of the hash and five columns were most of what the pg protocol parsed
  // per check, and the hashes travelled twice (docs/decisions/0116).
  const { rows } = await sql<{ states: string | null }>`
    select string_agg(i.n::text
      || case when cc.status is null then '-' when cc.status = 'subscribed' then 's'
           when cc.status = 'unsubscribed' then 'u' when cc.status = 'pending' then 'p' else '?' end
      || case when cc.paused_until > now() then '1' else '0' end
      || ${
        topic
          ? sql`case when tc.status is null then '-' when tc.status = 'opted_in' then 'i'
           when tc.status = 'opted_out' then 'o' else '?' end`
          : sql`'-'`
      }
      || ${tables.undeliverable ? sql`case when ua.x is not null then '1' else '0' end` : sql`'0'`}
      || ${tables.frequency ? sql`case when sl.capped is not null then '1' else '0' end` : sql`'0'`},
      ',') as states
    from unnest(string_to_array(${list}::text, ',')) with ordinality as i(h, n)
    left join lateral (
      select c.status, c.paused_until from channel_consent c
      where c.channel || ':' || c.address_hash = ${`${channel}:`}::text || i.h
      limit 1
    ) cc on true
    ${
      topic
        ? sql`left join lateral (
      select t.status from topic_consent t
      where t.channel = ${channel} and t.address_hash = i.h and t.topic = ${topic}
      limit 1
    ) tc on true`
        : sql``
    }
    ${
      tables.undeliverable
        ? sql`left join lateral (
      select 1 as x from undeliverable_addresses u
      where u.channel = ${channel} and u.address_hash = i.h
      limit 1
    ) ua on true`
        : sql``
    }
    ${
      tables.frequency
        ? sql`left join lateral (
      select f.window_days from frequency_consent f
      where f.channel = ${channel} and f.address_hash = i.h and f.window_days is not null
      limit 1
    ) fc on true
    left join lateral (
      select true as capped from send_log s
      where fc.window_days is not null and s.channel = ${channel}
        and s.address_hash = i.h and s.campaign is distinct from ${campaign}::text
        and s.sent_at > now() - make_interval(days => fc.window_days)
      limit 1
    ) sl on true`
        : sql``
    }
    where cc.status is not null ${topic ? sql`or tc.status is not null` : sql``}
      ${tables.undeliverable ? sql`or ua.x is not null` : sql``}
      ${tables.frequency ? sql`or fc.window_days is not null` : sql``}
  `.execute(db);
  readSendStates(rows[0]?.states ?? null, keys, out);
}

/**
 * Reads a lookup's answer (lookupSendStates) into `out`, by the key (normalized address) of each
 * position: entries `<position><status><paused><topic><undeliverable><capped>` separated by
 * commas, where position is 1-based in `keys`; status is s (subscribed), u (unsubscribed),
 * p (pending) or - (no row); topic is i (opted in), o (opted out) or - (no row); the others are
 * 1 or 0. A value the statement did not know (a status added to the schema but not here) is
 * refused, never read as "no row". Exported for tests.
 */
export function readSendStates(
  text: string | null,
  keys: readonly string[],
  out: Map<string, SendState>,
): void {
  if (text === null || text === "") return;
  let from = 0;
  while (from < text.length) {
    let comma = text.indexOf(",", from);
    if (comma === -1) comma = text.length;
    const codes = comma - 5;
    const position = Number(text.slice(from, codes));
    const h = keys[position - 1];
    const status = CHANNEL_CODES[text.charCodeAt(codes)];
    const topic = TOPIC_CODES[text.charCodeAt(codes + 2)];
    if (h === undefined || status === undefined || topic === undefined) {
      throw new Error(`send check: unreadable lookup answer ${text.slice(from, comma)}`);
    }
    out.set(h, {
      status,
      paused: text.charCodeAt(codes + 1) === ONE,
      topic,
      undeliverable: text.charCodeAt(codes + 3) === ONE,
      capped: text.charCodeAt(codes + 4) === ONE,
    });
    from = comma + 1;
  }
}

const ONE = "1".charCodeAt(0);
const COMMA = ",".charCodeAt(0);
const CHANNEL_CODES: Record<number, ChannelStatus | null> = {
  ["-".charCodeAt(0)]: null,
  ["s".charCodeAt(0)]: "subscribed",
  ["u".charCodeAt(0)]: "unsubscribed",
  ["p".charCodeAt(0)]: "pending",
};
const TOPIC_CODES: Record<number, TopicStatus | null> = {
  ["-".charCodeAt(0)]: null,
  ["i".charCodeAt(0)]: "opted_in",
  ["o".charCodeAt(0)]: "opted_out",
};

export type SendState = {
  undeliverable: boolean;
  status: ChannelStatus | null;
  paused: boolean;
  topic: TopicStatus | null;
  /** A recorded send of another campaign inside the address's frequency window. */
  capped: boolean;
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
  if (s?.capped) return "frequency_capped";
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
  /** The frequency option chosen on this channel (null: none; every message). */
  frequency: string | null;
};

/**
 * The consent state of each address (in the order given). With `pendingAt`, each also says
 * whether a double opt-in confirmation for it is still waiting at that time (the preference
 * page's "confirmation sent"), read in the same query.
 */
export async function readConsent(
  db: Db,
  targets: readonly { channel: Channel; address: string }[],
  options: { pendingAt?: Date } = {},
): Promise<(AddressConsent & { confirmationPending?: boolean })[]> {
  if (targets.length === 0) return [];
  const prepared = targets.map((t) => {
    const address = normalizeOrThrow(t.channel, t.address);
    return { channel: t.channel, address, hash: addressKey(address) };
  });
  // One query for every address (the channel row, the topic choices, the frequency), so a page
  // showing several channels costs one round trip: on PGlite each query crosses to its worker
  // thread. Each lookup is by the primary key (channel, address_hash, ...).
  const keys = [...new Map(prepared.map((p) => [`${p.channel}\0${p.hash}`, p])).values()];
  // A contact's addresses (one per channel: the preference page, the admin's contact page) are at
  // most CHANNELS.length keys, and for each count (with or without pendingAt) the text is fixed,
  // so it runs as a named prepared statement (decision 0108): PGlite parsed and planned the
  // statement on every call, about two thirds of its time in the worker, and on the preference
  // page it was the worker's largest cost. Longer lists (an API caller's) run unnamed.
  const name =
    keys.length <= CHANNELS.length
      ? `read_consent_${keys.length}${options.pendingAt ? "_pending" : ""}`
      : null;
  const { rows } = await sql<{
    channel: Channel;
    address_hash: string;
    status: ChannelStatus | null;
    paused_until: Date | string | null;
    topics: Record<string, TopicStatus> | string | null;
    frequency: string | null;
    confirmation_pending?: boolean;
  }>`${name ? preparedStatement(name) : sql``}
    select v.channel, v.address_hash, cc.status, cc.paused_until,${
      options.pendingAt
        ? sql`
      exists (select 1 from double_opt_in_requests d
       where d.channel = v.channel and d.address_hash = v.address_hash
         and d.status = 'pending' and d.expires_at > ${options.pendingAt}) as confirmation_pending,`
        : sql``
    }
      (select json_object_agg(tc.topic, tc.status order by tc.topic) from topic_consent tc
       where tc.channel = v.channel and tc.address_hash = v.address_hash) as topics,
      (select fc.frequency from frequency_consent fc
       where fc.channel = v.channel and fc.address_hash = v.address_hash) as frequency
    from (values ${sql.join(keys.map((k) => sql`(${k.channel}::text, ${k.hash}::text)`))})
      as v(channel, address_hash)
    left join channel_consent cc on cc.channel = v.channel and cc.address_hash = v.address_hash
  `.execute(db);
  const now = Date.now();
  return prepared.map((p) => {
    const row = rows.find((r) => r.channel === p.channel && r.address_hash === p.hash);
    const pausedUntil = row?.paused_until ? new Date(row.paused_until) : null;
    const topics = typeof row?.topics === "string" ? JSON.parse(row.topics) : (row?.topics ?? {});
    return {
      channel: p.channel,
      address: p.address,
      status: row?.status ?? null,
      pausedUntil: pausedUntil && pausedUntil.getTime() > now ? pausedUntil : null,
      topics: topics as Record<string, TopicStatus>,
      frequency: row?.frequency ?? null,
      ...(options.pendingAt ? { confirmationPending: row?.confirmation_pending === true } : {}),
    };
  });
}

export type HashConsent = {
  /** null: Heed has never recorded anything for this address (treated as subscribed). */
  status: ChannelStatus | null;
  pausedUntil: Date | null;
  topics: Record<string, TopicStatus>;
  /** The address as the state row holds it (null when erased, or never recorded). */
  address: string | null;
};

/**
 * The state of one address known by its keyed hash (an unsubscribe link's address), in one
 * query: the channel row and the topic choices.
 */
export async function readConsentByHash(
  db: Db,
  channel: Channel,
  hash: string,
): Promise<HashConsent> {
  const { rows } = await sql<{
    status: ChannelStatus | null;
    paused_until: Date | null;
    address: string | null;
    topics: Record<string, TopicStatus> | string | null;
  }>`
    select cc.status, cc.paused_until, cc.address,
      (select json_object_agg(tc.topic, tc.status) from topic_consent tc
       where tc.channel = ${channel} and tc.address_hash = ${hash}) as topics
    from (select 1) as one
    left join channel_consent cc on cc.channel = ${channel} and cc.address_hash = ${hash}
  `.execute(db);
  return hashConsentOf(rows[0]);
}

/**
 * A HashConsent from a row with readConsentByHash's columns (status, paused_until, address and
 * the topics as a JSON object), or from no row. For a query that reads them with other things
 * (app/recipient: an unsubscribe link's contact and its address's state in one round trip).
 */
export function hashConsentOf(
  r:
    | {
        status: ChannelStatus | null;
        paused_until: Date | string | null;
        address: string | null;
        topics: Record<string, TopicStatus> | string | null;
      }
    | undefined,
): HashConsent {
  const topics = typeof r?.topics === "string" ? JSON.parse(r.topics) : (r?.topics ?? {});
  const paused = r?.paused_until ? new Date(r.paused_until) : null;
  return {
    status: r?.status ?? null,
    pausedUntil: paused && paused.getTime() > Date.now() ? paused : null,
    topics: topics as Record<string, TopicStatus>,
    address: r?.address ?? null,
  };
}
