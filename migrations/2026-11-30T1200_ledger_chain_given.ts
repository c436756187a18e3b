import { sql, type Kysely } from "kysely";

/**
 * The bulk door hashes its ledger rows itself (decisions/0098): the chain trigger keeps a row's
 * given hashes when the row starts its chain, and computes them as before otherwise.
 *
 * A writer that passes `row_hash` (and `evidence_hash`, an explicit id and its transaction's
 * now() as occurred_at) after `set_config('heed.chain_given', 'on', true)` has hashed the row as
 * the first of its chain (prev_hash null). The trigger still looks up the previous row of the
 * address, exactly as before and with the same fresh snapshot (so a writer that waited for a row
 * lock sees what the other one committed, and concurrent writers cannot fork a chain): when there
 * is none, the given hashes stand — computing them here costs about 30 µs a row, most of an
 * import's database time; when there is one, the row is hashed here as before, replacing what was
 * given. Every other writer passes no hashes and is chained as before. `npm run ledger:verify`
 * recomputes every row either way.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create or replace function consent_ledger_chain() returns trigger language plpgsql as $$
    declare
      prev bytea;
    begin
      select l.row_hash into prev from consent_ledger l
        where l.channel = new.channel and l.address_hash = new.address_hash
        order by l.id desc limit 1;
      if prev is null and new.prev_hash is null and new.row_hash is not null
        and new.evidence_hash is not null
        and current_setting('heed.chain_given', true) = 'on' then
        return new;
      end if;
      new.prev_hash := prev;
      new.evidence_hash := consent_ledger_evidence_hash(
        new.address, new.ip, new.user_agent, new.reason_text, new.details);
      new.row_hash := consent_ledger_row_hash(new.prev_hash, new.id, new.occurred_at,
        new.channel, new.address_hash, new.contact_id, new.topic, new.action, new.source,
        new.campaign, new.reason_code, new.actor_type, new.actor_id, new.paused_until,
        new.frequency, new.evidence_hash);
      return new;
    end
  $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create or replace function consent_ledger_chain() returns trigger language plpgsql as $$
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
  $$`.execute(db);
}
