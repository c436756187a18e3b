import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "~/admin/password.server";
import { setUserDisabled, setUserRole } from "~/admin/users.server";
import { setDatabase, type Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Issue 11.10: two admins, the only two, demote (or disable) each other at the same moment. One
 * change wins, the other gets the clear `last_admin` refusal, never a deadlock (a 500), and one
 * enabled admin remains. On PostgreSQL the two transactions really run at once.
 */
let t: TestDatabase;
let db: Db;
let hash: string;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  hash = await hashPassword("race-password-0123");
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

async function twoAdmins(round: number) {
  await db.updateTable("admin_users").set({ disabled_at: new Date() }).execute();
  const rows = await db
    .insertInto("admin_users")
    .values(
      ["a", "b"].map((x) => ({
        email: `${x}${round}@race.test`,
        role: "admin" as const,
        name: null,
        password_hash: hash,
      })),
    )
    .returning(["id", "email"])
    .execute();
  const by = (u: { id: string; email: string }) => ({
    actor: { type: "admin_user" as const, id: u.id, label: u.email },
  });
  return { a: rows[0]!, b: rows[1]!, by };
}

const outcome = (p: Promise<void>) =>
  p.then(
    () => "done",
    (e: { code?: string; message?: string }) => e.code ?? e.message ?? "error",
  );

async function enabledAdmins(): Promise<number> {
  const rows = await db
    .selectFrom("admin_users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .execute();
  return rows.length;
}

describe("the last admin, under a race", () => {
  it("two admins demoting each other at once: one wins, the other is told why", async () => {
    for (let round = 0; round < 8; round++) {
      const { a, b, by } = await twoAdmins(round);
      const results = await Promise.all([
        outcome(setUserRole(db, a.id, "agent", by(b))),
        outcome(setUserRole(db, b.id, "agent", by(a))),
      ]);
      expect(results.sort()).toEqual(["done", "last_admin"]);
      expect(await enabledAdmins()).toBe(1);
    }
  });

  it("two admins disabling each other at once, or one demoting while the other disables", async () => {
    for (let round = 10; round < 18; round++) {
      const { a, b, by } = await twoAdmins(round);
      const results = await Promise.all([
        outcome(setUserDisabled(db, a.id, true, by(b))),
        round % 2
          ? outcome(setUserDisabled(db, b.id, true, by(a)))
          : outcome(setUserRole(db, b.id, "agent", by(a))),
      ]);
      expect(results.sort()).toEqual(["done", "last_admin"]);
      expect(await enabledAdmins()).toBe(1);
    }
  });
});
