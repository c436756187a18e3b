import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptLogin, LOGIN_LIMITS } from "~/admin/login.server";
import { hashPassword } from "~/admin/password.server";
import { changeOwnPassword, OWN_PASSWORD_LIMIT } from "~/admin/users.server";
import { setDatabase, type Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Issue 11.4: attempts are reserved in the database before the password is checked, so guesses
 * sent all at once cannot pass the limit together; the own-password form is limited too.
 */
let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

let n = 0;
async function makeUser(password: string) {
  const email = `burst${++n}@login-limits.test`;
  const row = await db
    .insertInto("admin_users")
    .values({ email, role: "admin", name: null, password_hash: await hashPassword(password) })
    .returning(["id", "email", "name", "role"])
    .executeTakeFirstOrThrow();
  return row;
}

describe("concurrent logins", () => {
  it("29 wrong guesses and the real password sent at once: at most 5 are checked, the rest refused", async () => {
    const password = "the-real-password-1";
    const u = await makeUser(password);
    const guesses = [
      ...Array.from({ length: 29 }, (_, i) => `wrong-guess-${i}`),
      password, // sent last, as in the report
    ];
    const results = await Promise.all(
      guesses.map((p, i) =>
        attemptLogin(db, {
          email: u.email,
          password: p,
          // Different addresses: the per-account limit alone must hold.
          ip: `198.51.100.${i + 1}`,
          userAgent: "burst",
        }),
      ),
    );
    const checked = results.filter((r) => r.ok || r.reason === "invalid");
    const refused = results.filter((r) => !r.ok && r.reason === "rate_limited");
    expect(checked.length).toBeLessThanOrEqual(LOGIN_LIMITS.account.limit);
    expect(refused.length).toBeGreaterThanOrEqual(guesses.length - LOGIN_LIMITS.account.limit);
    // The audit log agrees: no more failures recorded than attempts allowed.
    const failures = await db
      .selectFrom("audit_log")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("action", "=", "login.failed")
      .where("target_id", "=", u.id)
      .executeTakeFirstOrThrow();
    expect(Number(failures.n)).toBeLessThanOrEqual(LOGIN_LIMITS.account.limit);
  });

  it("a burst from one address is held to the per-IP limit across accounts", async () => {
    const ip = "192.0.2.200";
    const results = await Promise.all(
      Array.from({ length: LOGIN_LIMITS.ip.limit + 15 }, (_, i) =>
        attemptLogin(db, {
          email: `spray${i}@login-limits.test`,
          password: "guess-guess-guess",
          ip,
          userAgent: null,
        }),
      ),
    );
    const checked = results.filter((r) => !(!r.ok && r.reason === "rate_limited"));
    expect(checked.length).toBe(LOGIN_LIMITS.ip.limit);
  });

  it("a success gives its IP slot back: logins that succeed never lock an address out", async () => {
    const ip = "192.0.2.201";
    const u = await makeUser("colleague-password-1");
    for (let i = 0; i < LOGIN_LIMITS.ip.limit + 2; i++) {
      const r = await attemptLogin(db, {
        email: u.email,
        password: "colleague-password-1",
        ip,
        userAgent: null,
      });
      expect(r.ok).toBe(true);
    }
  });
});

describe("changing one's own password", () => {
  it("is limited: after 5 wrong current passwords even the right one is refused until the window ends", async () => {
    const u = await makeUser("own-password-right");
    const by = { actor: { type: "admin_user" as const, id: u.id, label: u.email } };
    const attempt = (currentPassword: string) =>
      changeOwnPassword(db, {
        user: u,
        currentPassword,
        newPassword: "own-password-new-1",
        keepSession: "none",
        by,
      }).then(
        () => "changed",
        (e: { code?: string }) => e.code ?? "error",
      );
    // Ten wrong guesses at once: only the limit's worth are checked.
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => attempt(`guess-${i}`)));
    expect(burst.filter((r) => r === "wrong_password").length).toBeLessThanOrEqual(
      OWN_PASSWORD_LIMIT.limit,
    );
    expect(burst.filter((r) => r === "rate_limited").length).toBeGreaterThanOrEqual(
      10 - OWN_PASSWORD_LIMIT.limit,
    );
    expect(await attempt("own-password-right")).toBe("rate_limited");
    // When the window has passed, the right password works (and clears the count).
    await db
      .updateTable("rate_limits")
      .set({ window_start: new Date(Date.now() - 16 * 60 * 1000) })
      .where("key", "=", `password:user:${u.id}`)
      .execute();
    expect(await attempt("own-password-right")).toBe("changed");
    expect(
      await db
        .selectFrom("rate_limits")
        .select("count")
        .where("key", "=", `password:user:${u.id}`)
        .executeTakeFirst(),
    ).toBeUndefined();
  });
});
