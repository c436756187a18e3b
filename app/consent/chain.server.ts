import crypto from "node:crypto";

import { sql } from "kysely";

import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";

/**
 * Proof of consent (docs/consent.md#proof-of-consent, decisions/0070): the ledger is a hash chain
 * per (channel, address hash). The database computes it (a BEFORE INSERT trigger, migration
 * 2026-11-29T1601), so every writer chains alike; this module verifies it, takes checkpoints and
 * gives what a third party needs to verify one person's history (ledgerProofFor +
 * verifyLedgerProof, which recomputes everything in JavaScript from the documented text format).
 *
 * What each row's hashes cover:
 *  - evidence_hash = SHA-256("heed-evidence-v1" ‖ f(address) ‖ f(ip) ‖ f(user_agent) ‖
 *    f(reason_text) ‖ f(details as text)): the personal columns, the only ones erasure may blank;
 *  - row_hash = SHA-256("heed-ledger-v1" ‖ f(prev_hash hex) ‖ f(id) ‖ f(occurred_at) ‖ f(channel)
 *    ‖ f(address_hash) ‖ f(contact_id) ‖ f(topic) ‖ f(action) ‖ f(source) ‖ f(campaign) ‖
 *    f(reason_code) ‖ f(actor_type) ‖ f(actor_id) ‖ f(paused_until) ‖ f(frequency) ‖
 *    f(evidence_hash hex)), where f(null) = "-", f(v) = "<UTF-8 byte length>:" ‖ v, and times are
 *    UTC ISO 8601 with microseconds ("2026-11-29T10:00:00.123456Z").
 */

export const CHAIN_VERSION = "heed-ledger-v1";

/** One row of a person's history, with every field as the text that was hashed. */
export type ProofRow = {
  id: string;
  occurredAt: string;
  channel: string;
  addressHash: string;
  contactId: string | null;
  topic: string | null;
  action: string;
  source: string;
  campaign: string | null;
  reasonCode: string | null;
  actorType: string | null;
  actorId: string | null;
  pausedUntil: string | null;
  frequency: string | null;
  /** The personal columns as stored (null when blank; after erasure they are blank). */
  evidence: {
    address: string | null;
    ip: string | null;
    userAgent: string | null;
    reasonText: string | null;
    details: string;
  };
  prevHash: string | null;
  evidenceHash: string;
  rowHash: string;
};

export type LedgerProof = {
  version: typeof CHAIN_VERSION;
  generatedAt: string;
  /** How to recompute the hashes (the same text as this module's comment and docs/consent.md). */
  algorithm: string;
  /** One chain per (channel, address hash), complete from its first row, in id order. */
  chains: { channel: string; addressHash: string; head: string | null; rows: ProofRow[] }[];
  /** The latest checkpoint: its digest covers every row up to it (ask the operator for all). */
  latestCheckpoint: {
    id: number;
    createdAt: string;
    lastLedgerId: number | null;
    digest: string;
  } | null;
};

const ALGORITHM =
  'evidence_hash = sha256("heed-evidence-v1" + f(address) + f(ip) + f(userAgent) + f(reasonText) + f(details)); ' +
  'row_hash = sha256("heed-ledger-v1" + f(prevHash) + f(id) + f(occurredAt) + f(channel) + f(addressHash) + f(contactId) + f(topic) + f(action) + f(source) + f(campaign) + f(reasonCode) + f(actorType) + f(actorId) + f(pausedUntil) + f(frequency) + f(evidenceHash)); ' +
  'f(null) = "-", f(v) = (UTF-8 byte length of v) + ":" + v; hashes in lower-case hex; ' +
  "each row's prevHash is the previous row's rowHash in its chain (null for the first row). " +
  "A row whose evidence no longer matches evidenceHash was erased (GDPR art. 17): its facts are still proven by rowHash.";

const field = (v: string | null): string =>
  v === null ? "-" : `${Buffer.byteLength(v, "utf8")}:${v}`;
// The one-shot crypto.hash (Node 20.12+): about half createHash's time on these short texts, and a
// bulk write of 1,000 addresses hashes 2,000 of them.
const sha256hex = (s: string): string => crypto.hash("sha256", s, "hex");

export function evidenceHashOf(e: ProofRow["evidence"]): string {
  return sha256hex(
    "heed-evidence-v1" +
      field(e.address) +
      field(e.ip) +
      field(e.userAgent) +
      field(e.reasonText) +
      field(e.details),
  );
}

export function rowHashOf(r: Omit<ProofRow, "evidence" | "rowHash">): string {
  return sha256hex(
    CHAIN_VERSION +
      [
        r.prevHash,
        r.id,
        r.occurredAt,
        r.channel,
        r.addressHash,
        r.contactId,
        r.topic,
        r.action,
        r.source,
        r.campaign,
        r.reasonCode,
        r.actorType,
        r.actorId,
        r.pausedUntil,
        r.frequency,
        r.evidenceHash,
      ]
        .map(field)
        .join(""),
  );
}

export type ProofCheck = {
  ok: boolean;
  rows: number;
  /** Rows whose personal evidence was blanked by an erasure (their facts still verify). */
  redacted: number;
  problems: { id: string; problem: "row_hash" | "link" | "order" }[];
};

/**
 * Recomputes a proof from its text alone (what a third party does): each row's hash from its
 * fields, each link to the previous row, ids increasing. Needs nothing from Heed.
 */
export function verifyLedgerProof(proof: Pick<LedgerProof, "chains">): ProofCheck {
  const problems: ProofCheck["problems"] = [];
  let rows = 0;
  let redacted = 0;
  for (const chain of proof.chains) {
    let prev: string | null = null;
    let prevId = -1n;
    for (const r of chain.rows) {
      rows++;
      if (BigInt(r.id) <= prevId) problems.push({ id: r.id, problem: "order" });
      if (r.prevHash !== prev) problems.push({ id: r.id, problem: "link" });
      if (rowHashOf(r) !== r.rowHash) problems.push({ id: r.id, problem: "row_hash" });
      if (evidenceHashOf(r.evidence) !== r.evidenceHash) redacted++;
      prev = r.rowHash;
      prevId = BigInt(r.id);
    }
    if (chain.head !== null && chain.head !== prev) {
      problems.push({ id: chain.rows.at(-1)?.id ?? "0", problem: "link" });
    }
  }
  return { ok: problems.length === 0, rows, redacted, problems };
}

type ProofDbRow = {
  id: string;
  occurred_at: string;
  channel: string;
  address_hash: string;
  contact_id: string | null;
  topic: string | null;
  action: string;
  source: string;
  campaign: string | null;
  reason_code: string | null;
  actor_type: string | null;
  actor_id: string | null;
  paused_until: string | null;
  frequency: string | null;
  address: string | null;
  ip: string | null;
  user_agent: string | null;
  reason_text: string | null;
  details: string;
  prev_hash: string | null;
  evidence_hash: string;
  row_hash: string;
};

/**
 * What a third party needs to verify one person's history: every ledger row of these address
 * hashes (on every channel), each field as the exact text hashed, the hashes, the algorithm, and
 * the latest checkpoint. Used by the GDPR export (art. 15/20).
 */
export async function ledgerProofFor(
  db: Db,
  addressHashes: readonly string[],
): Promise<LedgerProof> {
  const hashes = [...new Set(addressHashes)];
  const rows =
    hashes.length === 0
      ? []
      : (
          await sql<ProofDbRow>`
            select id::text as id, heed_chain_time(occurred_at) as occurred_at, channel,
              address_hash, contact_id::text as contact_id, topic, action, source, campaign,
              reason_code, actor_type, actor_id, heed_chain_time(paused_until) as paused_until,
              frequency, address, ip, user_agent, reason_text, details::text as details,
              encode(prev_hash, 'hex') as prev_hash, encode(evidence_hash, 'hex') as evidence_hash,
              encode(row_hash, 'hex') as row_hash
            from consent_ledger
            where channel in ('email', 'sms', 'whatsapp') and address_hash = any(${hashes}::text[])
            order by channel, address_hash, consent_ledger.id
          `.execute(db)
        ).rows;
  const chains = new Map<string, LedgerProof["chains"][number]>();
  for (const r of rows) {
    const k = `${r.channel}\u0000${r.address_hash}`;
    let chain = chains.get(k);
    if (!chain) {
      chain = { channel: r.channel, addressHash: r.address_hash, head: null, rows: [] };
      chains.set(k, chain);
    }
    chain.rows.push({
      id: r.id,
      occurredAt: r.occurred_at,
      channel: r.channel,
      addressHash: r.address_hash,
      contactId: r.contact_id,
      topic: r.topic,
      action: r.action,
      source: r.source,
      campaign: r.campaign,
      reasonCode: r.reason_code,
      actorType: r.actor_type,
      actorId: r.actor_id,
      pausedUntil: r.paused_until,
      frequency: r.frequency,
      evidence: {
        address: r.address,
        ip: r.ip,
        userAgent: r.user_agent,
        reasonText: r.reason_text,
        details: r.details,
      },
      prevHash: r.prev_hash,
      evidenceHash: r.evidence_hash,
      rowHash: r.row_hash,
    });
    chain.head = r.row_hash;
  }
  const cp = await sql<{
    id: number;
    created_at: Date;
    last_ledger_id: string | null;
    digest: string;
  }>`
    select id, created_at, last_ledger_id::text as last_ledger_id, encode(digest, 'hex') as digest
    from ledger_checkpoints order by id desc limit 1
  `.execute(db);
  const c = cp.rows[0];
  return {
    version: CHAIN_VERSION,
    generatedAt: new Date().toISOString(),
    algorithm: ALGORITHM,
    chains: [...chains.values()],
    latestCheckpoint: c
      ? {
          id: Number(c.id),
          createdAt: new Date(c.created_at).toISOString(),
          lastLedgerId: c.last_ledger_id === null ? null : Number(c.last_ledger_id),
          digest: c.digest,
        }
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Verifying the whole ledger (npm run ledger:verify, Admin → Ledger)

export type ChainProblem = {
  /** A ledger row id, or a checkpoint id for `checkpoint`. */
  id: number;
  problem:
    | "row_hash" // a chained column, or the stored evidence hash, was edited
    | "link" // a row before this one in its chain was deleted, edited or moved
    | "evidence" // personal columns edited (not by an erasure)
    | "checkpoint"; // rows covered by this checkpoint were deleted, added or edited
  channel?: string;
  addressHash?: string;
};

export type ChainReport = {
  ok: boolean;
  rows: number;
  chains: number;
  /** Rows whose personal columns an erasure blanked (their facts still verify). */
  redacted: number;
  checkpoints: number;
  /** Rows written after the latest checkpoint (deleting the last row of a chain among them is
   * only caught by the next checkpoint). */
  uncheckpointed: number;
  problems: ChainProblem[];
  /** Problems found in all (the list holds the first 100). */
  problemCount: number;
  checkedAt: Date;
  durationMs: number;
};

const PROBLEM_LIST_MAX = 100;

/**
 * Verifies every row and every checkpoint, set-based (one pass over the ledger, one over the
 * checkpoints). Read-only.
 */
export async function verifyLedgerChain(db: Db): Promise<ChainReport> {
  const started = performance.now();
  const { rows: stats } = await sql<{
    rows: string;
    chains: string;
    redacted: string;
    problem_count: string;
    problems: ChainProblem[] | null;
  }>`
    with l as (
      select id, channel, address_hash, action,
        row_hash = consent_ledger_row_hash(prev_hash, id, occurred_at, channel, address_hash,
          contact_id, topic, action, source, campaign, reason_code, actor_type, actor_id,
          paused_until, frequency, evidence_hash) as hash_ok,
        prev_hash is not distinct from
          lag(row_hash) over (partition by channel, address_hash order by id) as link_ok,
        evidence_hash = consent_ledger_evidence_hash(address, ip, user_agent, reason_text, details)
          as evidence_ok,
        -- What an erasure leaves (erasure.server.ts), followed by its erase row; or an address
        -- swept from free text (replaced by [erased]) when another person was erased.
        ((address is null and ip is null and user_agent is null and reason_text is null
            and details = '{"erased": true}'::jsonb
            and max(id) filter (where action = 'erase')
              over (partition by channel, address_hash) > id)
          or concat(address, ip, user_agent, reason_text, details::text) like '%[erased]%')
          as redacted_ok
      from consent_ledger
    ),
    p as (
      select id, channel, address_hash,
        case when not hash_ok then 'row_hash' when not link_ok then 'link'
          else 'evidence' end as problem
      from l
      where not hash_ok or not link_ok or (not evidence_ok and not redacted_ok)
    )
    select
      (select count(*) from l)::text as rows,
      (select count(*) from (select distinct channel, address_hash from l) d)::text as chains,
      (select count(*) from l where not evidence_ok and redacted_ok)::text as redacted,
      (select count(*) from p)::text as problem_count,
      (select json_agg(json_build_object('id', id, 'problem', problem, 'channel', channel,
          'addressHash', address_hash) order by id)
        from (select * from p order by id limit ${PROBLEM_LIST_MAX}) f) as problems
  `.execute(db);
  const s = stats[0]!;
  const problems: ChainProblem[] = (s.problems ?? []).map((p) => ({ ...p, id: Number(p.id) }));
  let problemCount = Number(s.problem_count);

  const { rows: cps } = await sql<{
    id: string;
    ok: boolean;
    row_count_ok: boolean;
    link_ok: boolean;
  }>`
    with c as (
      select c.id, c.from_txid, c.to_txid, c.row_count, c.prev_digest, c.digest,
        lag(c.digest) over (order by c.id) as expected_prev,
        lag(c.to_txid) over (order by c.id) as expected_from
      from ledger_checkpoints c
    )
    select c.id::text as id,
      c.digest = ledger_checkpoint_digest(c.prev_digest, c.from_txid, c.to_txid, r.n, r.hashes) as ok,
      c.row_count = r.n as row_count_ok,
      c.prev_digest is not distinct from c.expected_prev
        and c.from_txid = coalesce(c.expected_from, '0'::xid8) as link_ok
    from c
    cross join lateral (
      select count(*) as n, string_agg(encode(l.row_hash, 'hex'), '' order by l.id) as hashes
      from consent_ledger l where l.txid >= c.from_txid and l.txid < c.to_txid
    ) r
    order by c.id
  `.execute(db);
  for (const c of cps) {
    if (c.ok && c.row_count_ok && c.link_ok) continue;
    problemCount++;
    if (problems.length < PROBLEM_LIST_MAX)
      problems.push({ id: Number(c.id), problem: "checkpoint" });
  }
  const { rows: tail } = await sql<{ n: string }>`
    select count(*)::text as n from consent_ledger
    where txid >= coalesce((select to_txid from ledger_checkpoints order by id desc limit 1), '0'::xid8)
  `.execute(db);
  return {
    ok: problemCount === 0,
    rows: Number(s.rows),
    chains: Number(s.chains),
    redacted: Number(s.redacted),
    checkpoints: cps.length,
    uncheckpointed: Number(tail[0]!.n),
    problems,
    problemCount,
    checkedAt: new Date(),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Seals the rows of every transaction that finished since the previous checkpoint (those whose
 * txid is below the oldest transaction still running): their row hashes, in id order, go into a
 * digest chained to the previous checkpoint's. Returns null when there is nothing new. Safe on
 * several servers at once (one transaction-scoped advisory lock).
 */
export async function createLedgerCheckpoint(
  db: Db,
): Promise<{ id: number; rows: number; digest: string } | null> {
  return inTransaction(db, async (trx) => {
    await sql`select pg_advisory_xact_lock(${CHECKPOINT_LOCK}::bigint)`.execute(trx);
    const { rows } = await sql<{ id: string; row_count: string; digest: string }>`
      with prev as (
        select coalesce((select to_txid from ledger_checkpoints order by id desc limit 1), '0'::xid8)
            as from_txid,
          (select digest from ledger_checkpoints order by id desc limit 1) as prev_digest
      ),
      span as (
        select prev.*, pg_snapshot_xmin(pg_current_snapshot()) as to_txid from prev
      ),
      r as (
        select count(l.id) as n, max(l.id) as last_id,
          string_agg(encode(l.row_hash, 'hex'), '' order by l.id) as hashes
        from span left join consent_ledger l
          on l.txid >= span.from_txid and l.txid < span.to_txid
      )
      insert into ledger_checkpoints (from_txid, to_txid, row_count, last_ledger_id, prev_digest, digest)
      select span.from_txid, span.to_txid, r.n, r.last_id, span.prev_digest,
        ledger_checkpoint_digest(span.prev_digest, span.from_txid, span.to_txid, r.n, r.hashes)
      from span, r
      where r.n > 0 and span.to_txid > span.from_txid
      returning id::text as id, row_count::text as row_count, encode(digest, 'hex') as digest
    `.execute(trx);
    const r = rows[0];
    return r ? { id: Number(r.id), rows: Number(r.row_count), digest: r.digest } : null;
  });
}

/** The advisory lock key that serializes checkpoints ("heedcp" in ASCII). */
const CHECKPOINT_LOCK = 0x686565646370;

/** Admin → Ledger: seals a checkpoint now, audited in the same transaction. */
export async function sealLedgerCheckpoint(
  db: Db,
  by: AuditContext,
): Promise<{ id: number; rows: number; digest: string } | null> {
  return inTransaction(db, async (trx) => {
    const cp = await createLedgerCheckpoint(trx);
    await audit(trx, {
      ...by,
      action: "ledger.checkpoint",
      target: cp ? { type: "ledger_checkpoint", id: String(cp.id) } : null,
      details: cp ? { rows: cp.rows, digest: cp.digest } : { rows: 0 },
    });
    return cp;
  });
}

export type CheckpointSummary = {
  id: number;
  createdAt: Date;
  rowCount: number;
  lastLedgerId: number | null;
  digest: string;
};

export async function listLedgerCheckpoints(db: Db, limit = 20): Promise<CheckpointSummary[]> {
  const { rows } = await sql<{
    id: string;
    created_at: Date;
    row_count: string;
    last_ledger_id: string | null;
    digest: string;
  }>`
    select id::text as id, created_at, row_count::text as row_count,
      last_ledger_id::text as last_ledger_id, encode(digest, 'hex') as digest
    from ledger_checkpoints order by id desc limit ${limit}
  `.execute(db);
  return rows.map((r) => ({
    id: Number(r.id),
    createdAt: new Date(r.created_at),
    rowCount: Number(r.row_count),
    lastLedgerId: r.last_ledger_id === null ? null : Number(r.last_ledger_id),
    digest: r.digest,
  }));
}

/** What Admin → Ledger shows: a fresh verification and the latest checkpoints. */
export async function ledgerOverview(
  db: Db,
): Promise<{ report: ChainReport; checkpoints: CheckpointSummary[] }> {
  const report = await verifyLedgerChain(db);
  return { report, checkpoints: await listLedgerCheckpoints(db) };
}
