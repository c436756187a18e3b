import { sql, type Kysely } from "kysely";

/**
 * The chained ledger (docs/consent.md#proof-of-consent, decisions/0070):
 * - each consent_ledger row stores `evidence_hash` (SHA-256 over the personal columns erasure
 *   may blank: address, ip, user_agent, reason_text, details), `prev_hash` (the `row_hash` of the
 *   previous row of the same channel and address hash; null for the first) and `row_hash`
 *   (SHA-256 over prev_hash, the columns erasure keeps, and evidence_hash). A BEFORE INSERT
 *   trigger computes them, so every writer (the one door, the bulk door, erasure) chains alike and
 *   a bulk insert stays one statement. The canonical text hashed is documented in
 *   docs/consent.md; app/consent/chain.server.ts recomputes it in JavaScript for third parties.
 * - one row per address starts a chain: a unique index on the first rows turns a race between two
 *   first writers of an address into an error instead of a fork.
 * - erasure may still blank the personal columns, and nothing else (the append-only trigger now
 *   refuses any other column change even under heed.erasure).
 * - ledger_checkpoints: a running digest over every row hash, in id order, of the transactions
 *   that finished before the checkpoint, chained to the previous checkpoint: deleting a chain's
 *   last rows (which no later row names) is caught by the next checkpoint. Append-only too.
 * - existing rows are chained in place, per address in id order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create function heed_chain_field(v text) returns text language sql immutable as $$
      select case when v is null then '-' else octet_length(v)::text || ':' || v end
    $$`,
    sql`create function heed_chain_time(t timestamptz) returns text language sql stable as $$
      select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    $$`,
    sql`create function consent_ledger_evidence_hash(
        address text, ip text, user_agent text, reason_text text, details jsonb)
      returns bytea language sql stable as $$
      select sha256(convert_to('heed-evidence-v1' || heed_chain_field(address)
        || heed_chain_field(ip) || heed_chain_field(user_agent) || heed_chain_field(reason_text)
        || heed_chain_field(details::text), 'UTF8'))
    $$`,
    sql`create function consent_ledger_row_hash(
        prev bytea, id bigint, occurred_at timestamptz, channel text, address_hash text,
        contact_id uuid, topic text, action text, source text, campaign text, reason_code text,
        actor_type text, actor_id text, paused_until timestamptz, frequency text, evidence bytea)
      returns bytea language sql stable as $$
      select sha256(convert_to('heed-ledger-v1' || heed_chain_field(encode(prev, 'hex'))
        || heed_chain_field(id::text) || heed_chain_field(heed_chain_time(occurred_at))
        || heed_chain_field(channel) || heed_chain_field(address_hash)
        || heed_chain_field(contact_id::text) || heed_chain_field(topic)
        || heed_chain_field(action) || heed_chain_field(source) || heed_chain_field(campaign)
        || heed_chain_field(reason_code) || heed_chain_field(actor_type)
        || heed_chain_field(actor_id) || heed_chain_field(heed_chain_time(paused_until))
        || heed_chain_field(frequency) || heed_chain_field(encode(evidence, 'hex')), 'UTF8'))
    $$`,
    sql`alter table consent_ledger add column prev_hash bytea`,
    sql`alter table consent_ledger add column evidence_hash bytea`,
    sql`alter table consent_ledger add column row_hash bytea`,
    // Chain the rows written before this migration, per address in id order.
    sql`alter table consent_ledger disable trigger consent_ledger_no_update`,
    sql`do $$
      declare
        r record;
        prev bytea;
        ev bytea;
        h bytea;
        cur_channel text;
        cur_hash text;
      begin
        for r in select * from consent_ledger order by channel, address_hash, id loop
          if r.channel is distinct from cur_channel or r.address_hash is distinct from cur_hash then
            prev := null;
          end if;
          ev := consent_ledger_evidence_hash(r.address, r.ip, r.user_agent, r.reason_text, r.details);
          h := consent_ledger_row_hash(prev, r.id, r.occurred_at, r.channel, r.address_hash,
            r.contact_id, r.topic, r.action, r.source, r.campaign, r.reason_code, r.actor_type,
            r.actor_id, r.paused_until, r.frequency, ev);
          update consent_ledger set prev_hash = prev, evidence_hash = ev, row_hash = h
            where id = r.id;
          prev := h;
          cur_channel := r.channel;
          cur_hash := r.address_hash;
        end loop;
      end
    $$`,
    sql`alter table consent_ledger enable trigger consent_ledger_no_update`,
    sql`alter table consent_ledger alter column evidence_hash set not null`,
    sql`alter table consent_ledger alter column row_hash set not null`,
    sql`create unique index consent_ledger_chain_start_idx on consent_ledger (channel, address_hash)
      where prev_hash is null`,
    // Every writer chains alike; values a writer passes for the three columns are replaced.
    // The previous row is found through consent_ledger_address_idx (channel, address_hash, id).
    sql`create function consent_ledger_chain() returns trigger language plpgsql as $$
      begin
        select l.row_hash into new.prev_hash from consent_ledger l
          where l.channel = new.channel and l.address_hash = new.address_hash
          order by l.id desc limit 1;
        new.evidence_hash := consent_ledger_evidence_hash(
          new.address, new.ip, new.user_agent, new.reason_text, new.details);
        new.row_hash := consent_ledger_row_hash(new.prev_hash, new.id, new.occurred_at,
          new.channel, new.address_hash, new.contact_id, new.topic, new.action, new.source,
          new.campaign, new.reason_code, new.actor_type, new.actor_id, new.paused_until,
          new.frequency, new.evidence_hash);
        return new;
      end
    $$`,
    sql`create trigger consent_ledger_chain before insert on consent_ledger
      for each row execute function consent_ledger_chain()`,
    // Erasure may blank the personal columns (covered by evidence_hash) and nothing else.
    sql`create or replace function consent_ledger_append_only() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and current_setting('heed.erasure', true) = 'on' then
          if (new.id, new.occurred_at, new.channel, new.address_hash, new.contact_id, new.topic,
              new.action, new.source, new.campaign, new.reason_code, new.actor_type, new.actor_id,
              new.paused_until, new.frequency, new.txid, new.prev_hash, new.evidence_hash,
              new.row_hash)
            is distinct from
             (old.id, old.occurred_at, old.channel, old.address_hash, old.contact_id, old.topic,
              old.action, old.source, old.campaign, old.reason_code, old.actor_type, old.actor_id,
              old.paused_until, old.frequency, old.txid, old.prev_hash, old.evidence_hash,
              old.row_hash) then
            raise exception 'erasure may only blank personal columns of consent_ledger'
              using errcode = 'restrict_violation';
          end if;
          return new;
        end if;
        raise exception 'consent_ledger is append-only (% refused)', tg_op
          using errcode = 'restrict_violation';
      end
    $$`,
    sql`create table ledger_checkpoints (
      id bigint generated always as identity primary key,
      created_at timestamptz not null default now(),
      from_txid xid8 not null,
      to_txid xid8 not null,
      row_count bigint not null,
      last_ledger_id bigint,
      prev_digest bytea,
      digest bytea not null
    )`,
    sql`create function ledger_checkpoint_digest(
        prev bytea, from_txid xid8, to_txid xid8, row_count bigint, row_hashes text)
      returns bytea language sql immutable as $$
      select sha256(convert_to('heed-checkpoint-v1' || heed_chain_field(encode(prev, 'hex'))
        || heed_chain_field(from_txid::text) || heed_chain_field(to_txid::text)
        || heed_chain_field(row_count::text) || coalesce(row_hashes, ''), 'UTF8'))
    $$`,
    sql`create function ledger_checkpoints_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'ledger_checkpoints is append-only (% refused)', tg_op
          using errcode = 'restrict_violation';
      end
    $$`,
    sql`create trigger ledger_checkpoints_no_update before update or delete on ledger_checkpoints
      for each row execute function ledger_checkpoints_append_only()`,
    sql`create trigger ledger_checkpoints_no_truncate before truncate on ledger_checkpoints
      for each statement execute function ledger_checkpoints_append_only()`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`drop table if exists ledger_checkpoints`,
    sql`drop function if exists ledger_checkpoints_append_only()`,
    sql`drop function if exists ledger_checkpoint_digest(bytea, xid8, xid8, bigint, text)`,
    sql`drop trigger if exists consent_ledger_chain on consent_ledger`,
    sql`drop function if exists consent_ledger_chain()`,
    sql`create or replace function consent_ledger_append_only() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and current_setting('heed.erasure', true) = 'on' then
          return new;
        end if;
        raise exception 'consent_ledger is append-only (% refused)', tg_op
          using errcode = 'restrict_violation';
      end
    $$`,
    sql`drop index if exists consent_ledger_chain_start_idx`,
    sql`alter table consent_ledger drop column if exists row_hash`,
    sql`alter table consent_ledger drop column if exists evidence_hash`,
    sql`alter table consent_ledger drop column if exists prev_hash`,
    sql`drop function if exists consent_ledger_row_hash(bytea, bigint, timestamptz, text, text, uuid, text, text, text, text, text, text, text, timestamptz, text, bytea)`,
    sql`drop function if exists consent_ledger_evidence_hash(text, text, text, text, jsonb)`,
    sql`drop function if exists heed_chain_time(timestamptz)`,
    sql`drop function if exists heed_chain_field(text)`,
  ];
  for (const s of statements) await s.execute(db);
}
