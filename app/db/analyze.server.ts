import { sql } from "kysely";
import type { Db } from "~/db/db.server";

/**
 * ANALYZE for PGlite, which has no autovacuum (docs/decisions/0109).
 *
 * Hot statements are named prepared statements (decision 0101), and after five executions
 * PostgreSQL may keep one generic plan per statement and session, made with the statistics and
 * table sizes of that moment. A table analyzed while it had a few pages (an operator's ANALYZE, a
 * bench's, a restored dump) gets sequential scans in those plans, the cheapest plans for a page or
 * two, and nothing but the next ANALYZE (or DDL) of the table replaces them: measured on both
 * databases, `loadContact` and the one-click's channel_consent lookups scanned a 200,000-row table
 * on every call (20-100 ms instead of under 1 ms). On PostgreSQL autovacuum's ANALYZE ends that;
 * PGlite keeps one session for the life of the server and nothing ever analyzes it.
 *
 * A never-analyzed table is not at risk (the planner assumes at least 10 pages for it, and then
 * picks the index), so what matters is a table that outgrew the size its last ANALYZE recorded.
 * `relpages` is that size (ANALYZE, VACUUM and CREATE INDEX set it); the file's current size is
 * cheap to read. A table is analyzed when it is at least twice as large as recorded and at least
 * MIN_PAGES: a plan made for the recorded size then scans at most about twice what the planner
 * found cheap to scan (a sequential scan is chosen only for a few pages when an index fits).
 * ANALYZE samples at most 30,000 rows, so its cost does not grow with the table, and it
 * invalidates the cached plans that read the table: they are made again on their next execution.
 */
export const MIN_PAGES = 16;

/**
 * The statistics target of these ANALYZEs (PostgreSQL's default is 100). ANALYZE samples 300
 * rows per unit of target: 30,000 rows at 100, which held PGlite's only session 230-830 ms for
 * the ledger at 1,000,000 rows (every request waited); 3,000 at 10. What these ANALYZEs are for
 * is the table's size (relpages, reltuples: what decides between an index probe and a scan, and
 * what a sample of 3,000 rows estimates as well) and rough distributions; no plan of the app
 * depends on a finer histogram.
 */
export const ANALYZE_STATISTICS_TARGET = 10;

export async function analyzeGrownTables(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r' and n.nspname = current_schema()
      and pg_relation_size(c.oid) / current_setting('block_size')::int
        >= greatest(2 * c.relpages, ${MIN_PAGES})
    order by c.relname`.execute(db);
  // One statement per table: on PGlite each is one turn of the session, and requests waiting in
  // between go first (the caller runs in the background lane).
  for (const { name } of rows) {
    await db.transaction().execute(async (trx) => {
      await sql`set local default_statistics_target = ${sql.lit(ANALYZE_STATISTICS_TARGET)}`.execute(
        trx,
      );
      await sql`analyze ${sql.id(name)}`.execute(trx);
    });
  }
  return rows.map((r) => r.name);
}

/** How often the server looks for grown tables on PGlite: a catalog query of a few ms. */
export const ANALYZE_CHECK_EVERY_MS = 60_000;

/**
 * The background task (app/server/background.server.ts): on PGlite only. PostgreSQL has
 * autovacuum, whose ANALYZE also invalidates the pooled connections' plans (and the pool closes
 * idle connections, with their plans). With autovacuum off, PostgreSQL needs ANALYZE after large
 * loads from its operator, as it always does.
 */
export function createAnalyzeTask() {
  return {
    name: "analyze-grown-tables",
    everyMs: ANALYZE_CHECK_EVERY_MS,
    async run(ctx: {
      db: Db;
      dbKind: "pglite" | "postgres";
      logger: { info(obj: object, msg: string): void };
    }) {
      if (ctx.dbKind !== "pglite") return;
      const tables = await analyzeGrownTables(ctx.db);
      if (tables.length > 0) ctx.logger.info({ tables }, "analyzed grown tables");
    },
  };
}
