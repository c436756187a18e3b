import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { consentEventDeliveriesInsert } from "~/webhooks/enqueue.server";

import { sql } from "kysely";

import { inTransaction, type Db, type Trx } from "~/db/db.server";
import { nextTurn, SLICE_ROWS } from "~/db/priority.server";

import type { ActorType, Channel, ConsentSource } from "~/db/schema";

import { getSecrets } from "~/secrets.server";

import { hashAddress, normalizeAddress, type InvalidReason } from "~/consent/address.server";
import { evidenceHashOf, rowHashOf } from "~/consent/chain.server";

/**
 * The consent core's bulk door (imports, and any caller with thousands of addresses): the same
 * rules as applyConsentChanges for `unsubscribe`, done set-based. Addresses are normalized and
 * hashed in JS, then each batch is ONE statement in one transaction: it locks the addresses'
 * existing channel rows (in the same global order as the one-by-one path, so the two cannot
 * deadlock), writes a ledger row (action `unsubscribe`) for every address that is not
 * unsubscribed yet, and upserts the channel row to `unsubscribed` pointing at that ledger row.
 * Ledger and state therefore always agree, and an address that is already unsubscribed gets no
 * new ledger row (re-importing a file changes nothing). Addresses are matched by their keyed hash,
 * so an erased address (hash only) stays suppressed and is reported as already suppressed.
 *
 * Arrays travel as single bind parameters (unnest), so a batch never meets PostgreSQL's 65,535
 * parameter limit. Outbound webhooks are enqueued set-based in the same statement (`wh`).
 *
 * The ledger rows' chain hashes are computed here in Node, not by the chain trigger (one query
 * before the statement reserves their ids; the import does it ahead, while the previous batch is
 * written): decisions/0098. The trigger keeps them for a chain's first row only.
 */

/**
 * Items per statement. Large on purpose: the addresses' keyed hashes are random, so every batch
 * touches pages all over the (channel, address_hash) indexes; a large batch touches each page
 * several times per visit instead of once, and makes the per-statement costs small. Measured
 * (1,000,000 rows on PostgreSQL 15, npm run bench -- import): 5,000 → 91 s, 10,000 → 37 s,
 * 15,000 → 36 s, 25,000 → 31 s, 50,000 → 29 s; the import's peak RSS growth for 200,000 rows
 * rises with it (≈60 MB at 10,000, ≈80 MB at 15,000, ≈110 MB at 25,000, ≈125 MB at 50,000;
 * the budget is 150 MB). Since imports on PostgreSQL hash batch k+1 while batch k is written
 * (decision 0098), two batches are in memory at once: at 25,000 the growth reached 155 MB and at
 * 15,000 it ranged from 96 to 159 MB between runs, so 10,000.
 */
export const BULK_BATCH_SIZE = 10_000;

export type BulkUnsubscribeItem = {
  channel: Channel;
  /** Raw; normalized here (emails lower-cased, phones to E.164). */
  address: string;
  /**
   * An address known only by its keyed hash (erased: nothing else names it any more), used when
   * `address` is empty. It is suppressed like any other; its ledger row has no address.
   */
  addressHash?: string | null;
  reasonCode?: string | null;
  reasonText?: string | null;
};

export type BulkUnsubscribeOptions = {
  source: ConsentSource;
  campaign?: string | null;
  actor?: { type: ActorType; id?: string | null } | null;
  /** Stored in each ledger row's details as `import_id`; also tells duplicates across batches. */
  importId?: string | null;
  /** Stored in each ledger row's details as `note` (e.g. "import unsubscribe"). */
  note?: string | null;
  /**
   * With importId: a ledger id that every ledger row of this import is above (see
   * bulkLedgerFloor, read before the import's first batch). An unsubscribed address whose latest
   * ledger row is at or below it was suppressed before the import (no need to read that row to
   * tell it from a repeat within the import). Null: read it for every unsubscribed address.
   */
  ledgerFloor?: number | null;
  details?: Record<string, unknown>;
  /** The client's IP address and user agent, kept in each ledger row (API calls). */
  ip?: string | null;
  userAgent?: string | null;
};

export type BulkUnsubscribeResult = {
  /** Addresses that became unsubscribed (one ledger row each). */
  imported: number;
  /** Addresses that were unsubscribed before (nothing written). */
  alreadySuppressed: number;
  /** Items that repeat an address earlier in the same call or import (counted once). */
  duplicates: number;
  /** Items whose address is empty or invalid, by their index in `items`. */
  invalid: { index: number; reason: InvalidReason }[];
};

const MAX_REASON_TEXT = 1000;

type Prepared = {
  channels: string[];
  hashes: string[];
  addresses: (string | null)[];
  reasonCodes: (string | null)[];
  reasonTexts: (string | null)[];
};

/**
 * Normalizes, hashes, dedupes and sorts items[offset, end). `sliced`: lets requests in every
 * SLICE_ROWS items (decisions/0113); only outside a transaction (the import prepares its next
 * batch before it opens the batch's transaction): inside one, on PGlite, a pause would hold the
 * only session for as long as the requests it lets in take.
 */
async function prepare(
  items: readonly BulkUnsubscribeItem[],
  offset: number,
  end: number,
  sliced: boolean,
) {
  const region = defaultPhoneRegion();
  const key = getSecrets().addressHashKey;
  const p: Prepared = {
    channels: [],
    hashes: [],
    addresses: [],
    reasonCodes: [],
    reasonTexts: [],
  };
  const invalid: BulkUnsubscribeResult["invalid"] = [];
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = offset; i < end; i++) {
    // Lets requests in between slices of this loop (decisions/0113).
    if (sliced && (i - offset) % SLICE_ROWS === SLICE_ROWS - 1) await nextTurn();
    const item = items[i]!;
    const byHash = !item.address && item.addressHash ? item.addressHash : null;
    const n = byHash
      ? ({ ok: true, address: null } as const)
      : normalizeAddress(item.channel, item.address ?? "", region);
    if (!n.ok) {
      invalid.push({ index: i, reason: n.reason });
      continue;
    }
    // The same address twice in a batch counts once (the first row's reason is kept).
    const hash = byHash ?? hashAddress(key, n.address!);
    const k = `${item.channel}\u0000${hash}`;
    if (seen.has(k)) {
      repeated++;
      continue;
    }
    seen.add(k);
    p.channels.push(item.channel);
    p.hashes.push(hash);
    p.addresses.push(n.address);
    p.reasonCodes.push(item.reasonCode?.trim() || null);
    p.reasonTexts.push(item.reasonText?.trim().slice(0, MAX_REASON_TEXT) || null);
  }
  // Byte order of (channel, hash): the lock order of the one-by-one path.
  // (Channel, then hash: the same order as comparing `${channel}\0${hash}`, since no channel name
  // is a prefix of another, without building a key string per comparison.)
  const { channels, hashes } = p;
  const order = hashes.map((_, i) => i);
  order.sort((a, b) => {
    const ca = channels[a]!;
    const cb = channels[b]!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    const ha = hashes[a]!;
    const hb = hashes[b]!;
    return ha < hb ? -1 : ha > hb ? 1 : 0;
  });
  const sorted: Prepared = {
    channels: order.map((i) => p.channels[i]!),
    hashes: order.map((i) => p.hashes[i]!),
    addresses: order.map((i) => p.addresses[i]!),
    reasonCodes: order.map((i) => p.reasonCodes[i]!),
    reasonTexts: order.map((i) => p.reasonTexts[i]!),
  };
  return { p: sorted, invalid, repeated };
}

function detailsOf(options: BulkUnsubscribeOptions): string {
  return JSON.stringify({
    ...options.details,
    ...(options.importId ? { import_id: options.importId } : {}),
    ...(options.note ? { note: options.note } : {}),
  });
}

/** A batch's ledger rows hashed ahead (see chainHashes), aligned with the prepared arrays. */
type ChainGiven = {
  /** occurred_at of every row, as heed_chain_time prints it (UTC, microseconds). */
  at: string;
  ids: string[];
  evidence: string[];
  row: string[];
};

/**
 * Reserves an id for every address of the batch (the ones that end up not written leave gaps,
 * as any rolled-back insert does), takes the time and the details as PostgreSQL prints them
 * (jsonb's own key order and spacing), and hashes every row (chainHashes). One round trip.
 */
async function reserveChain(
  db: Db,
  p: Prepared,
  options: BulkUnsubscribeOptions,
  /** Hash in slices (outside a transaction only: see prepare). */
  sliced: boolean,
): Promise<ChainGiven> {
  const {
    rows: [r],
  } = await sql<{ at: string; details: string; ids: string[] }>`
    select heed_chain_time(clock_timestamp()) as at, ${detailsOf(options)}::jsonb::text as details,
      (select array_agg(nextval(q.seq) order by g)
        from (select pg_get_serial_sequence('consent_ledger', 'id')::regclass as seq offset 0) q,
          generate_series(1, ${p.hashes.length}::int) g)::text[] as ids
  `.execute(db);
  return { at: r!.at, ids: r!.ids, ...(await chainHashes(p, options, r!, sliced)) };
}

/**
 * Each row's evidence and row hash as the first row of its chain (prev_hash null), with the id
 * reserved for it and the given time: what the chain trigger would compute for a new address
 * (chain.server.ts holds the documented algorithm, shared with third-party verification).
 */
async function chainHashes(
  p: Prepared,
  options: BulkUnsubscribeOptions,
  given: { at: string; details: string; ids: string[] },
  sliced: boolean,
): Promise<{ evidence: string[]; row: string[] }> {
  const evidence: string[] = [];
  const row: string[] = [];
  const ip = options.ip ?? null;
  const userAgent = options.userAgent ?? null;
  const campaign = options.campaign ?? null;
  const actorType = options.actor?.type ?? null;
  const actorId = options.actor?.id ?? null;
  for (let i = 0; i < p.hashes.length; i++) {
    if (sliced && i % SLICE_ROWS === SLICE_ROWS - 1) await nextTurn(); // decisions/0113
    const evidenceHash = evidenceHashOf({
      address: p.addresses[i]!,
      ip,
      userAgent,
      reasonText: p.reasonTexts[i]!,
      details: given.details,
    });
    evidence.push(evidenceHash);
    row.push(
      rowHashOf({
        prevHash: null,
        id: given.ids[i]!,
        occurredAt: given.at,
        channel: p.channels[i]!,
        addressHash: p.hashes[i]!,
        contactId: null,
        topic: null,
        action: "unsubscribe",
        source: options.source,
        campaign,
        reasonCode: p.reasonCodes[i]!,
        actorType,
        actorId,
        pausedUntil: null,
        frequency: null,
        evidenceHash,
      }),
    );
  }
  return { evidence, row };
}

/** How a caller that streams batches (the import) runs one batch's statement. */
export type BulkWriteHooks = {
  /**
   * Commit the batch's transaction without waiting for its WAL to reach the disk (the import's
   * choice, decisions/0030: its progress is in the same transaction, so a crash loses both and the
   * job resumes before them). Set in the batch's one settings statement (a round trip less).
   */
  asyncCommit?: boolean;
  /**
   * Called once the batch's main statement has been sent (every statement before it answered): the
   * caller prepares its next batch while PostgreSQL works, instead of delaying the short statements
   * before this one (their answers wait for Node's event loop) and leaving the database idle.
   */
  onStatementSent?: () => void;
};

async function writeBatch(
  trx: Trx,
  p: Prepared,
  options: BulkUnsubscribeOptions,
  given?: ChainGiven | null,
  hooks: BulkWriteHooks = {},
): Promise<Omit<BulkUnsubscribeResult, "invalid"> & { unsubscribedBefore: number[] }> {
  if (p.hashes.length === 0) {
    if (hooks.asyncCommit) {
      await sql`select set_config('synchronous_commit', 'off', true)`.execute(trx);
    }
    hooks.onStatementSent?.();
    return { imported: 0, alreadySuppressed: 0, duplicates: 0, unsubscribedBefore: [] };
  }
  const details = detailsOf(options);
  const importId = options.importId ?? null;
  const floor = importId === null ? null : (options.ledgerFloor ?? null);
  // The batch's CTEs hold a few MB; keep them in memory (the default 4 MB spills to disk). JIT
  // compilation costs more than it saves on this statement (it is one pass over the batch).
  // The ledger rows are hashed in Node (decisions/0098): ids reserved from the ledger's sequence,
  // a time and the details as PostgreSQL prints them, then each row's hashes as the first row of
  // its chain; the chain trigger keeps them when the address has no ledger row yet and hashes the
  // row itself otherwise (heed.chain_given, migration 2026-11-30T1200). Done before the
  // transaction by chainPreparedBulkUnsubscribe (the import), or here.
  await (
    hooks.asyncCommit
      ? sql`select set_config('work_mem', '64MB', true), set_config('jit', 'off', true),
          set_config('heed.chain_given', 'on', true), set_config('synchronous_commit', 'off', true)`
      : sql`select set_config('work_mem', '64MB', true), set_config('jit', 'off', true),
          set_config('heed.chain_given', 'on', true)`
  ).execute(trx);
  const chain = given ?? (await reserveChain(trx, p, options, false));
  // One statement:
  //  - `seen` reads each address's channel row (one index probe each; LATERAL … LIMIT 1 is never
  //    turned into a hash join over the whole table). An address that is unsubscribed already
  //    is left alone and not even locked (the import changes nothing for it: as if it ran just
  //    before any concurrent change), so a re-import dirties no page;
  //  - `cur` locks the rows that will change (FOR UPDATE in a LATERAL subquery, in the arrays'
  //    order, which is (channel, hash) byte order: the order in which applyConsentChanges locks
  //    several rows, so the two paths cannot deadlock) and takes their latest committed state;
  //  - a ledger row for each address not unsubscribed yet, and its state row upserted to point
  //    at it (in the same sorted order, no ORDER BY needed); the counts.
  const statement = sql<{
    imported: number;
    state_rows: number;
    already: number;
    repeated: number;
    unsubscribed_before: number[] | null;
  }>`
    with input as (
      select * from unnest(
        ${p.channels}::text[], ${p.hashes}::text[], ${p.addresses}::text[],
        ${p.reasonCodes}::text[], ${p.reasonTexts}::text[], ${chain.ids}::bigint[],
        ${chain.evidence}::text[], ${chain.row}::text[]
      ) with ordinality as t(channel, address_hash, address, reason_code, reason_text, id,
        evidence_hash, row_hash, n)
    ),
    seen as (
      select f.*, c.status, c.last_ledger_id
      from input f
      left join lateral (
        select cc.status, cc.last_ledger_id from channel_consent cc
        where cc.channel = f.channel and cc.address_hash = f.address_hash
        limit 1
      ) c on true
    ),
    cur as (
      select s.n, s.channel, s.address_hash, s.address, s.reason_code, s.reason_text,
        s.id, s.evidence_hash, s.row_hash,
        coalesce(k.status, s.status) as status,
        case when s.status = 'unsubscribed' and ${importId}::text is not null
          and (${floor}::bigint is null or s.last_ledger_id > ${floor}::bigint) then (
          select l.details ->> 'import_id' from consent_ledger l where l.id = s.last_ledger_id
        ) end as last_import
      from seen s
      left join lateral (
        select cc.status from channel_consent cc
        where s.status is distinct from 'unsubscribed' and s.status is not null
          and cc.channel = s.channel and cc.address_hash = s.address_hash
        for update
      ) k on true
    ),
    todo as (
      select * from cur where status is distinct from 'unsubscribed'
    ),
    led as (
      insert into consent_ledger (
        id, occurred_at, channel, address_hash, address, action, source, campaign, reason_code,
        reason_text, actor_type, actor_id, ip, user_agent, details, evidence_hash, row_hash)
      overriding system value
      select id, ${chain.at}::timestamptz, channel, address_hash, address, 'unsubscribe',
        ${options.source},
        ${options.campaign ?? null}, reason_code, reason_text,
        ${options.actor?.type ?? null}, ${options.actor?.id ?? null},
        ${options.ip ?? null}::text, ${options.userAgent ?? null}::text, ${details}::jsonb,
        decode(evidence_hash, 'hex'), decode(row_hash, 'hex')
      from todo
      returning id, channel, address_hash, address
    ),
    st as (
      insert into channel_consent (channel, address_hash, address, status, paused_until, last_ledger_id)
      select channel, address_hash, address, 'unsubscribed', null, id from led
      on conflict (channel, address_hash) do update set
        status = 'unsubscribed',
        paused_until = null,
        address = coalesce(excluded.address, channel_consent.address),
        last_ledger_id = excluded.last_ledger_id,
        updated_at = now()
      returning 1
    ),
    -- Outbound webhooks (docs/api.md), in this statement's transaction like the one-by-one path.
    wh as (${consentEventDeliveriesInsert("led", "unsubscribe")})
    select
      (select count(*) from led)::int as imported,
      (select count(*) from st)::int as state_rows,
      (select count(*) from cur where status = 'unsubscribed'
        and (${importId}::text is null or last_import is distinct from ${importId}::text))::int as already,
      (select count(*) from cur where status = 'unsubscribed'
        and ${importId}::text is not null and last_import = ${importId}::text)::int as repeated,
      (select array_agg(n::int - 1) from cur where status = 'unsubscribed') as unsubscribed_before
  `.execute(trx);
  // The driver sends the query within the microtasks that follow (no timer on the way), so after
  // them the caller may go back to CPU work without holding the statement back.
  if (hooks.onStatementSent) setImmediate(hooks.onStatementSent);
  const { rows } = await statement;
  const r = rows[0]!;
  if (r.imported !== r.state_rows) {
    // Cannot happen with the statement above; refuse to commit a ledger that disagrees with state.
    throw new Error(`bulk unsubscribe: ${r.imported} ledger rows but ${r.state_rows} state rows`);
  }
  return {
    imported: r.imported,
    alreadySuppressed: r.already,
    duplicates: r.repeated,
    unsubscribedBefore: (r.unsubscribed_before ?? []).map(Number),
  };
}

/**
 * The ledger's highest id now: every ledger row written after this call has a higher id (ids come
 * from an identity sequence, allocated after this read). Read before an import's first batch and
 * passed as `ledgerFloor`, it lets a re-import skip reading the ledger row of every address.
 */
export async function bulkLedgerFloor(db: Db): Promise<number> {
  const { rows } = await sql<{
    floor: string | number;
  }>`select coalesce(max(id), 0) as floor from consent_ledger`.execute(db);
  return Number(rows[0]!.floor);
}

/** A batch normalized and hashed in JS, ready for one statement (see prepareBulkUnsubscribe). */
export type PreparedBulkUnsubscribe = {
  readonly p: Prepared;
  readonly invalid: BulkUnsubscribeResult["invalid"];
  readonly repeated: number;
  /** Its ledger rows hashed ahead (chainPreparedBulkUnsubscribe); otherwise done when written. */
  readonly chain?: ChainGiven | null;
};

/**
 * The CPU half of a batch (normalize, hash, dedupe, sort), at most BULK_BATCH_SIZE items. Callers
 * that stream (the import runner) prepare the next batch while the previous one is written. In
 * slices that let requests in (decisions/0113): call it outside a transaction.
 */
export async function prepareBulkUnsubscribe(
  items: readonly BulkUnsubscribeItem[],
): Promise<PreparedBulkUnsubscribe> {
  if (items.length > BULK_BATCH_SIZE) {
    throw new Error(`prepareBulkUnsubscribe takes at most ${BULK_BATCH_SIZE} items`);
  }
  return prepare(items, 0, items.length, true);
}

/**
 * Hashes a prepared batch's ledger rows ahead, outside the transaction that writes them (one round
 * trip for the ids, then Node's CPU in slices that let requests in), so that a streaming caller
 * does it while the previous batch is written. The rows' occurred_at is then the time of this
 * call. `options` must be the ones the batch is applied with (the hashes cover source, campaign,
 * actor, ip, user agent and details).
 */
export async function chainPreparedBulkUnsubscribe(
  db: Db,
  prepared: PreparedBulkUnsubscribe,
  options: BulkUnsubscribeOptions,
): Promise<PreparedBulkUnsubscribe> {
  if (prepared.p.hashes.length === 0) return prepared;
  return { ...prepared, chain: await reserveChain(db, prepared.p, options, true) };
}

/**
 * What applyPreparedBulkUnsubscribe did, and which of the prepared batch's addresses were
 * unsubscribed before it (their positions in the prepared arrays): the only ones a re-import can
 * add a missing reason to (addMissingReasons), since every other address just got the file's.
 */
export type PreparedBulkUnsubscribeResult = BulkUnsubscribeResult & {
  unsubscribedBefore: number[];
};

/** The database half of a prepared batch: one statement, in the caller's transaction (or its own). */
export async function applyPreparedBulkUnsubscribe(
  db: Db,
  prepared: PreparedBulkUnsubscribe,
  options: BulkUnsubscribeOptions,
  hooks?: BulkWriteHooks,
): Promise<PreparedBulkUnsubscribeResult> {
  const counts = await inTransaction(db, (trx) =>
    writeBatch(trx, prepared.p, options, prepared.chain, hooks),
  );
  return {
    imported: counts.imported,
    alreadySuppressed: counts.alreadySuppressed,
    duplicates: counts.duplicates + prepared.repeated,
    invalid: [...prepared.invalid],
    unsubscribedBefore: counts.unsubscribedBefore,
  };
}

/**
 * Unsubscribes many addresses. Within the caller's transaction when given one; otherwise one
 * transaction per batch of BULK_BATCH_SIZE items.
 */
export async function bulkUnsubscribe(
  db: Db,
  items: readonly BulkUnsubscribeItem[],
  options: BulkUnsubscribeOptions,
): Promise<BulkUnsubscribeResult> {
  const total: BulkUnsubscribeResult = {
    imported: 0,
    alreadySuppressed: 0,
    duplicates: 0,
    invalid: [],
  };
  const seen = new Set<string>();
  for (let offset = 0; offset < items.length; offset += BULK_BATCH_SIZE) {
    const end = Math.min(items.length, offset + BULK_BATCH_SIZE);
    // Maybe in the caller's transaction (the API's: at most 3,000 items), so in one go.
    const { p, invalid, repeated } = await prepare(items, offset, end, false);
    total.invalid.push(...invalid);
    total.duplicates += repeated;
    // Duplicates across batches of one call (without an importId to tell them in the database).
    if (!options.importId && items.length > BULK_BATCH_SIZE) {
      const keep = p.hashes.map((h, i) => {
        const k = `${p.channels[i]}\u0000${h}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      const dropped = keep.filter((k) => !k).length;
      if (dropped > 0) {
        total.duplicates += dropped;
        for (const field of Object.keys(p) as (keyof Prepared)[]) {
          (p[field] as unknown[]) = (p[field] as unknown[]).filter((_, i) => keep[i]);
        }
      }
    }
    const counts = await inTransaction(db, (trx) => writeBatch(trx, p, options));
    total.imported += counts.imported;
    total.alreadySuppressed += counts.alreadySuppressed;
    total.duplicates += counts.duplicates;
  }
  return total;
}
