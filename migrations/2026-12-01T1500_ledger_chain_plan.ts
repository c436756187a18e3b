import { sql, type Kysely } from "kysely";

/**
 * The chain trigger's previous-row lookup never plans a sequential scan (decisions/0106).
 *
 * PL/pgSQL caches a trigger's query plans for the life of the session, and after five calls it
 * keeps a generic plan built with the statistics of that moment. When `consent_ledger` had been
 * analyzed while empty (or tiny), that generic plan is a sequential scan plus a sort: cheapest for
 * an empty table, and kept while the ledger grows, since nothing invalidates it until the next
 * ANALYZE. Every ledger row written in that session then reads the whole ledger (measured: 1,000
 * new addresses over a 6,000-row ledger, 430,000 buffer reads and 0.9 s in the trigger instead of
 * a few ms). PGlite has no autovacuum and one session for the life of the server, so there it
 * stays until the server restarts; on PostgreSQL each pooled connection keeps it until autovacuum
 * analyzes the ledger again.
 *
 * With sequential scans disabled for the function (a SET clause, applied on every call and to the
 * plans made during it), the only plans left for `where channel = $1 and address_hash = $2 order
 * by id desc limit 1` are index scans, and the (channel, address_hash, id) index is the one that
 * answers it without a sort. Nothing else in the function reads a table.
 *
 * Whoever redefines consent_ledger_chain() (create or replace drops the SET clause) must keep it:
 * tests/integration/ledger-chain-plan.test.ts fails otherwise.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter function consent_ledger_chain() set enable_seqscan = off`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter function consent_ledger_chain() reset enable_seqscan`.execute(db);
}
