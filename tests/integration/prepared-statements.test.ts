/**
 * Hot statements run as named prepared statements on PostgreSQL (app/db/db.server.ts,
 * docs/decisions/0101): a statement marked with preparedStatement(name) gives the same answers as
 * an unmarked one, again and again on the same pooled connection, inside a transaction, with
 * other values each time; on PostgreSQL it is then known to the server as a prepared statement of
 * that connection. PGlite runs it as plain SQL (the marker is a comment). Functional only.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparedStatement, type Db } from "~/db/db.server";
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

  it("are prepared statements of the connection on PostgreSQL", async () => {
    const prepared = await db.connection().execute(async (conn) => {
      await double(conn, 1);
      const { rows } = await sql<{ name: string }>`
        select name from pg_prepared_statements where name = 'heed_test_double'`.execute(conn);
      return rows;
    });
    expect(prepared.length).toBe(t.kind === "postgres" ? 1 : 0);
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
