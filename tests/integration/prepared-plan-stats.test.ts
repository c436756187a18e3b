import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
} from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey } from "~/consent/consent.server";
import { unsubscribeByLinkStatement } from "~/consent/link-unsubscribe.server";
import { analyzeGrownTables, createAnalyzeTask } from "~/db/analyze.server";
import type { Db } from "~/db/db.server";
import type { Database } from "~/db/schema";
import { loadContact } from "~/recipient/recipient.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Prepared statements' generic plans outlive the statistics they were made with (decision 0109).
 *
 * `recipient_contact` (loadContact) and the one-click statements (`link_unsubscribe`,
 * `link_topic_opt_out`) are named prepared statements on PostgreSQL and in the server's PGlite
 * worker (decision 0101); PGlite in the calling thread does not prepare, so PGlite runs here in a
 * worker, as in the server. After five executions PostgreSQL keeps a generic plan made with the
 * table sizes of that moment: made right after an ANALYZE of small tables it reads them with
 * sequential scans, and those plans stay while the tables grow (nothing but the next ANALYZE or
 * DDL replaces them; PGlite has no autovacuum). The test makes that happen in one session and
 * reads, with EXPLAIN (ANALYZE, BUFFERS) EXECUTE of the same prepared statement, what one more
 * execution reads; then analyzeGrownTables (what the server runs on PGlite) must give index
 * probes. No timing involved.
 */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase({ pgliteWorker: true });
});
afterAll(async () => {
  await t?.close();
});

/** The SQL and parameters a data function sends, compiled without a database. */
async function compiled(fn: (db: Db) => Promise<unknown>): Promise<CompiledQuery> {
  let query: CompiledQuery | undefined;
  const dry = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createQueryCompiler: () => new PostgresQueryCompiler(),
      createIntrospector: (d) => new PostgresIntrospector(d),
    },
    log: (e) => {
      query = e.query;
    },
  });
  await fn(dry);
  return query!;
}

const literal = (v: unknown) =>
  v === null || v === undefined ? "null" : `'${String(v).replace(/'/g, "''")}'`;

type Explained = { plan: string; blocks: number };

/** One execution of the session's prepared statement `heed_<name>`, explained. */
async function explainExecute(db: Db, name: string, query: CompiledQuery): Promise<Explained> {
  const { rows } = await sql
    .raw<{ "QUERY PLAN": string }>(
      `explain (analyze, buffers, costs off, timing off) execute heed_${name}(${query.parameters.map(literal).join(", ")})`,
    )
    .execute(db);
  const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
  // Every "Buffers:" line of the execution, summed (nodes repeat their children's counts; an upper
  // bound is what matters: a scan of the table reads every one of its pages). Not the planner's
  // own reads (the catalog, after an invalidation), listed under "Planning:".
  const executed = plan.split(/^Planning/m)[0]!;
  let blocks = 0;
  for (const m of executed.matchAll(/Buffers: shared((?: \w+=\d+)+)/g)) {
    for (const n of m[1]!.matchAll(/(?:hit|read)=(\d+)/g)) blocks += Number(n[1]);
  }
  return { plan, blocks };
}

const pagesOf = async (db: Db, table: string) =>
  (
    await sql<{
      pages: number;
    }>`select (pg_relation_size(${table}::regclass) / current_setting('block_size')::int)::int as pages`.execute(
      db,
    )
  ).rows[0]!.pages;

const ROWS = 30_000;

describe("prepared statements after the tables grew", () => {
  it("scan the tables with plans made after ANALYZE of small tables, and probe the indexes once analyzeGrownTables ran", async () => {
    // One session throughout: prepared statements and their plans belong to a session (PGlite
    // has only one; PostgreSQL's pool would hand out several).
    await t.db.connection().execute(async (db) => {
      // A new database, analyzed while (nearly) empty: what an operator's or a bench's ANALYZE
      // on a new install records.
      const contactIds = (
        await sql<{
          id: string;
        }>`insert into contacts (email) select 'small' || g || '@example.com' from generate_series(1, 20) g returning id`.execute(
          db,
        )
      ).rows.map((r) => r.id);
      await sql`insert into topics (key) values ('plan-news')`.execute(db);
      await sql`analyze`.execute(db);

      // The first recipients: each statement runs more than five times, so the session keeps
      // its generic plan, made for tables of a page or two.
      const oneClick = (n: number, topic: string | null = null) => ({
        channel: "email" as const,
        addressHash: addressKey(`plan${n}@example.com`),
        // null: the statement then reads the address from channel_consent (its subselect).
        address: null,
        topic,
        source: "one_click" as const,
        contactId: contactIds[0]!,
      });
      for (let i = 0; i < 8; i++) {
        expect(await loadContact(db, contactIds[i]!)).not.toBeNull();
        expect((await unsubscribeByLinkStatement(db, oneClick(i))).changed).toBe(true);
        expect((await unsubscribeByLinkStatement(db, oneClick(100 + i, "plan-news"))).changed).toBe(
          true,
        );
      }

      // The tables grow (an import, a sync) without an ANALYZE.
      await sql`insert into contacts (email)
        select 'grown' || g || '@example.com' from generate_series(1, ${ROWS}::int) g`.execute(db);
      await sql`insert into channel_consent (channel, address_hash, address, status)
        select 'email', md5(g::text), 'grown' || g || '@example.com', 'unsubscribed'
        from generate_series(1, ${ROWS}::int) g`.execute(db);
      const contactPages = await pagesOf(db, "contacts");
      const consentPages = await pagesOf(db, "channel_consent");
      expect(contactPages).toBeGreaterThan(150);
      expect(consentPages).toBeGreaterThan(150);

      let n = 1_000;
      const statements = async () => ({
        contact: await explainExecute(
          db,
          "recipient_contact",
          await compiled((d) => loadContact(d, contactIds[3]!)),
        ),
        unsubscribe: await explainExecute(
          db,
          "link_unsubscribe",
          await compiled((d) => unsubscribeByLinkStatement(d, oneClick(n++))),
        ),
        topic: await explainExecute(
          db,
          "link_topic_opt_out",
          await compiled((d) => unsubscribeByLinkStatement(d, oneClick(n++, "plan-news"))),
        ),
      });

      // The stale plans: every call reads the whole table.
      const stale = await statements();
      expect(stale.contact.plan).toMatch(/Seq Scan on contacts/);
      expect(stale.contact.blocks).toBeGreaterThan(contactPages / 2);
      expect(stale.unsubscribe.plan).toMatch(/Seq Scan on channel_consent cc0/);
      expect(stale.unsubscribe.blocks).toBeGreaterThan(consentPages / 2);
      expect(stale.topic.plan).toMatch(/Seq Scan on channel_consent/);
      expect(stale.topic.blocks).toBeGreaterThan(consentPages);

      // The fix: the grown tables are analyzed, which invalidates the plans that read them.
      const analyzed = await analyzeGrownTables(db);
      expect(analyzed).toEqual(expect.arrayContaining(["channel_consent", "contacts"]));

      // Made again: custom plans first, then (after five executions) a generic plan built with
      // the new statistics. Both probe the primary keys.
      for (let round = 0; round < 7; round++) {
        const fresh = await statements();
        expect(fresh.contact.plan).toMatch(/Index Scan using contacts_pkey on contacts/);
        expect(fresh.contact.plan).not.toMatch(/Seq Scan/);
        expect(fresh.contact.blocks).toBeLessThan(20);
        expect(fresh.unsubscribe.plan).toMatch(
          /Index Scan using channel_consent_pkey on channel_consent cc0/,
        );
        expect(fresh.unsubscribe.plan).not.toMatch(/Seq Scan on channel_consent/);
        expect(fresh.unsubscribe.blocks).toBeLessThan(consentPages / 2);
        expect(fresh.topic.plan).not.toMatch(/Seq Scan on channel_consent/);
        expect(fresh.topic.blocks).toBeLessThan(consentPages / 2);
        // The last rounds run the generic plan (its parameter shows as $1, not a literal).
        if (round === 6) expect(fresh.contact.plan).toMatch(/Index Cond: \(id = \$1\)/);
      }
      // Nothing grew since: nothing to do.
      expect(await analyzeGrownTables(db)).toEqual([]);
      const { rows } = await sql<{ generic_plans: number }>`
        select generic_plans::int from pg_prepared_statements
        where name = 'heed_recipient_contact'`.execute(db);
      expect(rows[0]!.generic_plans).toBeGreaterThan(0);
    });
  });
});

describe("a table never analyzed", () => {
  it("keeps an index probe while it grows: the planner assumes 10 pages for it", async () => {
    // Why only tables analyzed while small are at risk (and why analyzeGrownTables need not
    // analyze a small table nobody analyzed): a fresh database, no ANALYZE at all.
    const fresh = await createTestDatabase({ pgliteWorker: true });
    try {
      await fresh.db.connection().execute(async (db) => {
        const ids = (
          await sql<{
            id: string;
          }>`insert into contacts (email) select 'n' || g || '@example.com' from generate_series(1, 20) g returning id`.execute(
            db,
          )
        ).rows.map((r) => r.id);
        for (let i = 0; i < 8; i++) await loadContact(db, ids[i]!);
        await sql`insert into contacts (email)
          select 'grown' || g || '@example.com' from generate_series(1, ${ROWS}::int) g`.execute(
          db,
        );
        const { plan, blocks } = await explainExecute(
          db,
          "recipient_contact",
          await compiled((d) => loadContact(d, ids[3]!)),
        );
        expect(plan).toMatch(/Index Scan using contacts_pkey on contacts/);
        expect(blocks).toBeLessThan(20);
      });
    } finally {
      await fresh.close();
    }
  });
});

describe("the server's analyze task", () => {
  it("analyzes a grown table on PGlite, and leaves PostgreSQL to autovacuum", async () => {
    const db = t.db;
    await sql`create table plan_probe (id int primary key, note text)`.execute(db);
    await sql`insert into plan_probe select g, repeat('x', 40) from generate_series(1, 5000) g`.execute(
      db,
    );
    const logged: object[] = [];
    await createAnalyzeTask().run({
      db,
      dbKind: t.kind,
      logger: { info: (obj: object) => logged.push(obj) },
    });
    const { rows } = await sql<{ analyzed: boolean }>`
      select reltuples >= 0 as analyzed from pg_class where relname = 'plan_probe'`.execute(db);
    expect(rows[0]!.analyzed).toBe(t.kind === "pglite");
    expect(logged).toEqual(t.kind === "pglite" ? [{ tables: ["plan_probe"] }] : []);
  });
});
