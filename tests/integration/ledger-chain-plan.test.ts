import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { suppressAddresses } from "~/api/suppressions.server";
import { addressKey, applyConsentChange } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * The chain trigger's previous-row lookup stays an index probe whatever the statistics said when
 * its plan was cached (decisions/0106, migration 2026-12-01T1500_ledger_chain_plan).
 *
 * PL/pgSQL keeps a generic plan per session. Built right after ANALYZE of an empty ledger it was a
 * sequential scan, and every ledger row written afterwards in that session read the whole ledger:
 * the suppressions API on a server whose database had been analyzed early went from about 60 ms to
 * over 900 ms per 1,000 addresses within a few calls. The test reproduces that in one session (one
 * transaction: PGlite has one session anyway, PostgreSQL's pool would hand out several) and reads
 * how many buffers one more ledger row costs: an index probe touches a handful of pages, a scan
 * touches every page of the ledger. No timing involved.
 */
let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

type ExplainNode = { "Shared Hit Blocks"?: number; "Shared Read Blocks"?: number };

class Rollback extends Error {}

describe("chain trigger plan", () => {
  it("looks up an address's previous ledger row by index after ANALYZE of an empty ledger", async () => {
    let blocks = 0;
    let ledgerPages = 0;
    await db
      .transaction()
      .execute(async (trx) => {
        // The ledger is empty here: ANALYZE records that (reltuples 0), as a bench set-up or an
        // operator's ANALYZE on a new database does.
        expect(
          (await sql<{ n: number }>`select count(*)::int as n from consent_ledger`.execute(trx))
            .rows[0]!.n,
        ).toBe(0);
        await sql`analyze consent_ledger`.execute(trx);
        // The API's calls (the bulk door): the trigger runs thousands of times in this session,
        // so its generic plan is made and cached while the ledger is still nearly empty.
        for (let call = 0; call < 6; call++) {
          const result = await suppressAddresses(trx, {
            channel: "email",
            addresses: Array.from({ length: 1_000 }, (_, i) => `plan${call}.${i}@example.com`),
            actor: { type: "api_key", id: "plan-test" },
            ip: null,
            userAgent: null,
          });
          expect(result.suppressed).toBe(1_000);
        }
        ledgerPages = (
          await sql<{
            pages: number;
          }>`select (pg_relation_size('consent_ledger') / current_setting('block_size')::int)::int as pages`.execute(
            trx,
          )
        ).rows[0]!.pages;
        // One more ledger row in the same session: what its insert (and so its trigger) reads.
        const { rows } = await sql<{ "QUERY PLAN": unknown }>`
          explain (analyze, buffers, format json)
          insert into consent_ledger (channel, address_hash, address, action, source)
          values ('email', ${addressKey("plan-probe@example.com")}, 'plan-probe@example.com',
            'unsubscribe', 'api')`.execute(trx);
        const raw = rows[0]!["QUERY PLAN"];
        const plan = (typeof raw === "string" ? JSON.parse(raw) : raw) as {
          Plan: ExplainNode;
        }[];
        blocks =
          (plan[0]!.Plan["Shared Hit Blocks"] ?? 0) + (plan[0]!.Plan["Shared Read Blocks"] ?? 0);
        throw new Rollback();
      })
      .catch((e) => {
        if (!(e instanceof Rollback)) throw e;
      });
    // 6,000 rows fill about 180 pages. The insert itself writes the heap and each index (a few
    // pages each: 64 blocks in all on both databases), the lookup one descent of the
    // (channel, address_hash, id) index; a scan adds every page of the ledger (244 blocks).
    expect(ledgerPages).toBeGreaterThan(120);
    expect(blocks).toBeLessThan(ledgerPages / 2);
  });

  it("still chains an address's later rows to its earlier ones", async () => {
    // The plan change must not change what the lookup finds: a second change of one address
    // points at the first one's hash.
    const address = "plan-chain@example.com";
    const base = {
      channel: "email" as const,
      address,
      source: "admin" as const,
      actor: { type: "admin_user" as const, id: null },
      details: { note: "plan test" },
    };
    await applyConsentChange(db, { ...base, action: "unsubscribe" });
    await applyConsentChange(db, { ...base, action: "subscribe" });
    const { rows } = await sql<{ prev: string | null; row: string }>`
      select encode(prev_hash, 'hex') as prev, encode(row_hash, 'hex') as row
      from consent_ledger where channel = 'email' and address_hash = ${addressKey(address)}
      order by id`.execute(db);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.prev).toBeNull();
    expect(rows[1]!.prev).toBe(rows[0]!.row);
  });
});
