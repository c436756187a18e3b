/**
 * Hot statements run as named prepared statements on PostgreSQL (app/db/db.server.ts,
 * docs/decisions/0101): a statement marked with preparedStatement(name) gives the same answers as
 * an unmarked one, again and again on the same pooled connection, inside a transaction, with
 * other values each time; on PostgreSQL it is then known to the server as a prepared statement of
 * that connection. PGlite in the calling thread runs it as plain SQL (the marker is a comment);
 * PGlite in its worker thread (as the server runs it) prepares it in its one session, with the
 * same parameter serializers and result parsers as PGlite's own query(), and prepares it again
 * after the worker was restarted. Functional only.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { addressKey } from "~/consent/consent.server";
import { unsubscribeByLinkStatement } from "~/consent/link-unsubscribe.server";
import { openPglite, preparedStatement, type Db } from "~/db/db.server";
import { databaseFault } from "~/db/faults.server";
import { loadContact } from "~/recipient/recipient.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

const double = (db: Db, n: number) =>
  sql<{ v: number }>`${preparedStatement("test_double")}select ${n}::int * 2 as v`.execute(db);

describe("prepared statements", () => {
  it("answer like plain statements, with new values every time, in and out of transactions", async () => {
    for (let i = 0; i < 12; i++) {
      const { rows } = await double(db, i);
      expect(rows).toEqual([{ v: i * 2 }]);
    }
    const inTrx = await db.transaction().execute(async (trx) => {
      const a = await double(trx, 21);
      const b = await double(trx, 50);
      return [a.rows[0]!.v, b.rows[0]!.v];
    });
    expect(inTrx).toEqual([42, 100]);
    // Many at once: every pooled connection prepares it for itself.
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => double(db, i)));
    expect(all.map((r) => r.rows[0]!.v)).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
  });

  it("are prepared statements of the connection on PostgreSQL and in PGlite's worker", async () => {
    const prepared = await db.connection().execute(async (conn) => {
      await double(conn, 1);
      const { rows } = await sql<{ name: string }>`
        select name from pg_prepared_statements where name = 'heed_test_double'`.execute(conn);
      return rows;
    });
    // PGlite in the calling thread (CLIs, the suite by default) runs the text; its worker (the
    // server; HEED_TEST_PGLITE_WORKER=1) prepares, as PostgreSQL does.
    const prepares = t.kind === "postgres" || process.env.HEED_TEST_PGLITE_WORKER === "1";
    expect(prepared.length).toBe(prepares ? 1 : 0);
  });

  it("a failing prepared statement leaves the connection usable", async () => {
    await expect(
      sql`${preparedStatement("test_fails")}select 1 / ${0}::int`.execute(db),
    ).rejects.toThrow(/division by zero/);
    await expect(
      sql`${preparedStatement("test_fails")}select 1 / ${0}::int`.execute(db),
    ).rejects.toThrow(/division by zero/);
    expect((await double(db, 4)).rows).toEqual([{ v: 8 }]);
  });

  it("loadContact reads a contact, and nothing for an erased or unknown one", async () => {
    const c = await db
      .insertInto("contacts")
      .values({ external_id: "prep-1", email: "prep.1@example.com", locale: "de" })
      .returning(["id"])
      .executeTakeFirstOrThrow();
    for (let i = 0; i < 7; i++) {
      expect(await loadContact(db, c.id)).toEqual({
        id: c.id,
        locale: "de",
        email: "prep.1@example.com",
        phone: null,
      });
    }
    expect(await loadContact(db, "00000000-0000-4000-8000-000000000000")).toBeNull();
    expect(await loadContact(db, "not-a-uuid")).toBeNull();
    await db
      .updateTable("contacts")
      .set({ erased_at: new Date() })
      .where("id", "=", c.id)
      .execute();
    expect(await loadContact(db, c.id)).toBeNull();
  });

  it("names are checked", () => {
    expect(() => preparedStatement("Bad name")).toThrow();
    expect(() => preparedStatement("")).toThrow();
  });
});

const onPglite = (process.env.HEED_TEST_DB ?? "pglite") === "pglite";
const template = () => new Blob([fs.readFileSync(inject("pgliteTemplate"))]);

describe.skipIf(!onPglite)("prepared statements in the PGlite worker", () => {
  it("give PGlite's own types, errors and transactions", async () => {
    const h = await openPglite("memory://", { lock: false, loadDataDir: template(), worker: true });
    try {
      const w = h.db;
      const at = new Date("2026-01-02T03:04:05.678Z");
      const typed = () =>
        sql<{
          n: number;
          big: number;
          t: Date;
          j: unknown;
          u: string;
          nul: string | null;
        }>`${preparedStatement("test_types")}
          select ${7}::int as n, ${2 ** 40}::bigint as big, ${at}::timestamptz as t,
            ${JSON.stringify({ a: [1, "x"] })}::jsonb as j, ${"0b4c6b1e-8a4f-4f7e-9d3e-2a1b3c4d5e6f"}::uuid as u,
            ${null}::text as nul`.execute(w);
      for (let i = 0; i < 3; i++) {
        const { rows } = await typed();
        expect(rows).toEqual([
          {
            n: 7,
            big: 2 ** 40,
            t: at,
            j: { a: [1, "x"] },
            u: "0b4c6b1e-8a4f-4f7e-9d3e-2a1b3c4d5e6f",
            nul: null,
          },
        ]);
      }
      const names = await sql<{ name: string }>`
        select name from pg_prepared_statements where name = 'heed_test_types'`.execute(w);
      expect(names.rows).toEqual([{ name: "heed_test_types" }]);
      // A constraint violation keeps its code and constraint (the HTTP layer maps them).
      const insert = (email: string) =>
        sql`${preparedStatement("test_insert_contact")}
          insert into contacts (external_id, email) values (${"dup-1"}, ${email})`.execute(w);
      await insert("a@example.com");
      const err = await insert("b@example.com").catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe("23505");
      expect(databaseFault(err)).toBeNull();
      // Inside a transaction, and a rolled back one leaves nothing.
      await w
        .transaction()
        .execute(async (trx) => {
          await sql`${preparedStatement("test_insert_contact")}
            insert into contacts (external_id, email) values (${"rolled-back"}, ${"c@example.com"})`.execute(
            trx,
          );
          throw new Error("roll back");
        })
        .catch(() => {});
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from contacts where external_id in ('dup-1', 'rolled-back')`.execute(
        w,
      );
      expect(rows).toEqual([{ n: 1 }]);
      // The one-click statement: a change once, nothing on a repeat.
      const address = "worker.one-click@example.com";
      const input = {
        channel: "email" as const,
        addressHash: addressKey(address),
        address,
        topic: null,
        source: "one_click" as const,
        contactId: null,
        campaign: "worker-campaign",
      };
      const first = await unsubscribeByLinkStatement(w, input);
      const again = await unsubscribeByLinkStatement(w, input);
      expect(first.changed).toBe(true);
      expect(again).toEqual({ changed: false, ledgerId: null });
      const ledger = await w
        .selectFrom("consent_ledger")
        .select(["id", "campaign", "source", "address"])
        .where("address_hash", "=", input.addressHash)
        .execute();
      expect(ledger).toEqual([
        { id: first.ledgerId, campaign: "worker-campaign", source: "one_click", address },
      ]);
    } finally {
      await h.close();
    }
  });

  it("are prepared again in a restarted worker's new session", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-prepared-"));
    const h = await openPglite(dir, { loadDataDir: template(), worker: true });
    try {
      expect((await double(h.db, 3)).rows).toEqual([{ v: 6 }]);
      await h.pgliteWorker!.crashForTests();
      for (let i = 0; ; i++) {
        try {
          expect((await double(h.db, 5)).rows).toEqual([{ v: 10 }]);
          break;
        } catch (e) {
          if (i > 300) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
