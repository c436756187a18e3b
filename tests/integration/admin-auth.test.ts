import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireAction, requireRole, requireUser } from "~/admin/auth.server";
import { csrfTokenFor } from "~/admin/csrf.server";
import { attemptLogin, LOGIN_LIMITS } from "~/admin/login.server";
import { hashPassword } from "~/admin/password.server";
import {
  commitSessionCookie,
  createSession,
  findSession,
  hashSessionId,
  sessionLimits,
} from "~/admin/session.server";
import {
  changeOwnPassword,
  createUser,
  resetUserPassword,
  setUserDisabled,
  setUserRole,
  UserError,
} from "~/admin/users.server";
import { setDatabase, type Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;
const system = { actor: { type: "system" as const, label: "test" } };

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
async function makeUser(role: "admin" | "agent", password = "correct-horse-battery") {
  const email = `user${++n}-${role}@admin-auth.test`;
  const row = await db
    .insertInto("admin_users")
    .values({ email, role, name: null, password_hash: await hashPassword(password) })
    .returning(["id", "email", "name", "role"])
    .executeTakeFirstOrThrow();
  return { ...row, password };
}

const ORIGIN = "http://localhost:3000";
async function requestWith(
  sessionId: string | null,
  init: RequestInit & { path?: string } = {},
): Promise<Request> {
  const headers = new Headers(init.headers);
  if (sessionId) headers.set("Cookie", (await commitSessionCookie(sessionId)).split(";")[0]!);
  return new Request(`${ORIGIN}${init.path ?? "/admin/contacts"}`, { ...init, headers });
}

async function thrown(p: Promise<unknown>): Promise<Response> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Response) return e;
    throw e;
  }
  throw new Error("expected a thrown Response");
}

describe("login", () => {
  it("a correct password creates a database session whose id is stored only as a hash", async () => {
    const u = await makeUser("agent");
    const r = await attemptLogin(db, {
      email: ` ${u.email.toUpperCase()} `,
      password: u.password,
      ip: "203.0.113.1",
      userAgent: "test",
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.user).toEqual({ id: u.id, email: u.email, name: null, role: "agent" });
    const rows = await db
      .selectFrom("admin_sessions")
      .selectAll()
      .where("user_id", "=", u.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id_hash).toBe(hashSessionId(r.sessionId));
    expect(rows[0]!.id_hash).not.toContain(r.sessionId);
    expect((await findSession(db, r.sessionId))?.user.email).toBe(u.email);
    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "login")
      .where("actor_id", "=", u.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.ip).toBe("203.0.113.1");
  });

  it("a wrong password, an unknown email and a disabled account get the same answer", async () => {
    const u = await makeUser("agent");
    const disabled = await makeUser("agent");
    await db
      .updateTable("admin_users")
      .set({ disabled_at: new Date() })
      .where("id", "=", disabled.id)
      .execute();
    const wrong = await attemptLogin(db, {
      email: u.email,
      password: "not-the-password",
      ip: "203.0.113.2",
      userAgent: null,
    });
    const unknown = await attemptLogin(db, {
      email: "nobody@admin-auth.test",
      password: "whatever-it-is",
      ip: "203.0.113.2",
      userAgent: null,
    });
    const off = await attemptLogin(db, {
      email: disabled.email,
      password: disabled.password,
      ip: "203.0.113.2",
      userAgent: null,
    });
    expect(wrong).toEqual({ ok: false, reason: "invalid" });
    expect(unknown).toEqual(wrong);
    expect(off).toEqual(wrong);
  });

  it("after 5 failures an account is locked for the window, even with the right password; success resets the count", async () => {
    const u = await makeUser("admin");
    // Two failures, then a success: the counter starts again.
    for (let i = 0; i < 2; i++)
      await attemptLogin(db, {
        email: u.email,
        password: "wrong-password!",
        ip: `198.51.100.${i}`,
        userAgent: null,
      });
    expect(
      (
        await attemptLogin(db, {
          email: u.email,
          password: u.password,
          ip: "198.51.100.9",
          userAgent: null,
        })
      ).ok,
    ).toBe(true);
    for (let i = 0; i < LOGIN_LIMITS.account.limit; i++) {
      // Different IPs: the account limit holds whatever the source.
      const r = await attemptLogin(db, {
        email: u.email,
        password: "wrong-password!",
        ip: `198.51.100.${10 + i}`,
        userAgent: null,
      });
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    const locked = await attemptLogin(db, {
      email: u.email,
      password: u.password,
      ip: "198.51.100.99",
      userAgent: null,
    });
    expect(locked.ok).toBe(false);
    expect(locked).toMatchObject({ reason: "rate_limited" });
    if (!locked.ok && locked.reason === "rate_limited") {
      expect(locked.retryAfterSeconds).toBeGreaterThan(0);
      expect(locked.retryAfterSeconds).toBeLessThanOrEqual(LOGIN_LIMITS.account.windowSeconds);
    }
    // When the window has passed, the right password works again.
    await sql`update rate_limits set window_start = now() - interval '16 minutes' where key like 'login:account:%'`.execute(
      db,
    );
    expect(
      (
        await attemptLogin(db, {
          email: u.email,
          password: u.password,
          ip: "198.51.100.99",
          userAgent: null,
        })
      ).ok,
    ).toBe(true);
  });

  it("an IP address that fails too often is refused for every account, unknown emails included", async () => {
    const u = await makeUser("agent");
    const ip = "192.0.2.77";
    for (let i = 0; i < LOGIN_LIMITS.ip.limit; i++) {
      await attemptLogin(db, {
        email: `spray${i}@admin-auth.test`,
        password: "guess-guess-guess",
        ip,
        userAgent: null,
      });
    }
    expect(
      await attemptLogin(db, { email: u.email, password: u.password, ip, userAgent: null }),
    ).toMatchObject({ ok: false, reason: "rate_limited" });
    // Another IP is not affected.
    expect(
      (
        await attemptLogin(db, {
          email: u.email,
          password: u.password,
          ip: "192.0.2.78",
          userAgent: null,
        })
      ).ok,
    ).toBe(true);
  });
});

describe("sessions expire", () => {
  it("after the idle timeout without requests", async () => {
    const u = await makeUser("agent");
    const { id } = await createSession(db, u.id, { ip: null, userAgent: null });
    expect(await findSession(db, id)).not.toBeNull();
    // The session slides forward while used; here it has not been used for longer than allowed.
    await db
      .updateTable("admin_sessions")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("id_hash", "=", hashSessionId(id))
      .execute();
    expect(await findSession(db, id)).toBeNull();
  });

  it("at the absolute limit after login, even while in use", async () => {
    const u = await makeUser("agent");
    const { id } = await createSession(db, u.id, { ip: null, userAgent: null });
    const maxHours = sessionLimits().maxMs / 3_600_000;
    await db
      .updateTable("admin_sessions")
      .set({
        created_at: sql<Date>`now() - make_interval(hours => ${maxHours}) - interval '1 minute'`,
      } as never)
      .where("id_hash", "=", hashSessionId(id))
      .execute();
    expect(await findSession(db, id)).toBeNull();
    expect(
      await db
        .selectFrom("admin_sessions")
        .select("id_hash")
        .where("id_hash", "=", hashSessionId(id))
        .execute(),
    ).toHaveLength(0);
  });

  it("slides the idle expiry forward on use, never past the absolute limit", async () => {
    const u = await makeUser("agent");
    const { id } = await createSession(db, u.id, { ip: null, userAgent: null });
    await db
      .updateTable("admin_sessions")
      .set({ expires_at: sql<Date>`now() + interval '2 minutes'` })
      .where("id_hash", "=", hashSessionId(id))
      .execute();
    const found = await findSession(db, id);
    const { idleMs } = sessionLimits();
    expect(found!.session.expiresAt.getTime()).toBeGreaterThan(Date.now() + idleMs - 10_000);
  });

  it("when the user is disabled (and the sessions are deleted)", async () => {
    const admin = await makeUser("admin");
    const u = await makeUser("agent");
    const { id } = await createSession(db, u.id, { ip: null, userAgent: null });
    await setUserDisabled(db, u.id, true, {
      actor: { type: "admin_user", id: admin.id, label: admin.email },
    });
    expect(await findSession(db, id)).toBeNull();
    expect(
      await db.selectFrom("admin_sessions").select("id_hash").where("user_id", "=", u.id).execute(),
    ).toHaveLength(0);
  });
});

describe("authorization helpers", () => {
  it("no session → redirect to the login page with the way back; a bad cookie signature is no session", async () => {
    const res = await thrown(
      requireUser(await requestWith(null, { path: "/admin/contacts?q=abc" })),
    );
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe(
      "/admin/login?redirectTo=%2Fadmin%2Fcontacts%3Fq%3Dabc",
    );
    const u = await makeUser("admin");
    const { id } = await createSession(db, u.id, { ip: null, userAgent: null });
    const forged = new Request(`${ORIGIN}/admin/users`, {
      headers: { Cookie: `heed_admin=${encodeURIComponent(btoa(JSON.stringify(id)))}` },
    });
    expect((await thrown(requireUser(forged))).status).toBe(302);
  });

  it("an agent is refused admin-only work with 403; an admin passes both roles", async () => {
    const agent = await makeUser("agent");
    const admin = await makeUser("admin");
    const a = await createSession(db, agent.id, { ip: null, userAgent: null });
    const b = await createSession(db, admin.id, { ip: null, userAgent: null });
    expect((await requireRole(await requestWith(a.id), "agent")).id).toBe(agent.id);
    expect((await thrown(requireRole(await requestWith(a.id), "admin"))).status).toBe(403);
    expect((await requireRole(await requestWith(b.id), "admin")).id).toBe(admin.id);
    expect((await requireRole(await requestWith(b.id), "agent")).role).toBe("admin");
  });

  it("an action needs the session's CSRF token and a same-origin request", async () => {
    const u = await makeUser("agent");
    const { id, session } = await createSession(db, u.id, { ip: null, userAgent: null });
    const post = async (body: Record<string, string>, headers: Record<string, string> = {}) =>
      requestWith(id, {
        method: "POST",
        body: new URLSearchParams(body),
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      });
    const token = csrfTokenFor(session);

    const ok = await requireAction(
      await post({ csrf: token, x: "1" }, { Origin: ORIGIN, "Sec-Fetch-Site": "same-origin" }),
      "agent",
    );
    expect(ok.formData.get("x")).toBe("1");

    expect((await thrown(requireAction(await post({ x: "1" }), "agent"))).status).toBe(403);
    const other = await createSession(db, u.id, { ip: null, userAgent: null });
    expect(
      (await thrown(requireAction(await post({ csrf: csrfTokenFor(other.session) }), "agent")))
        .status,
    ).toBe(403);
    // A valid token does not help a cross-site request.
    const crossSite = await thrown(
      requireAction(
        await post(
          { csrf: token },
          { "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" },
        ),
        "agent",
      ),
    );
    expect(crossSite.status).toBe(403);
    expect(await crossSite.text()).toMatch(/cross-site/);
    expect(
      (
        await thrown(
          requireAction(await post({ csrf: token }, { Origin: "https://evil.example" }), "agent"),
        )
      ).status,
    ).toBe(403);
  });
});

describe("users", () => {
  const by = (id: string, email: string) => ({
    actor: { type: "admin_user" as const, id, label: email },
    ip: "203.0.113.5",
  });

  it("are created with a role (a generated password is returned once), and a duplicate email is refused", async () => {
    const admin = await makeUser("admin");
    const created = await createUser(
      db,
      { email: " New.Agent@Admin-Auth.test ", name: "New", role: "agent", password: "" },
      by(admin.id, admin.email),
    );
    expect(created.user).toMatchObject({ email: "new.agent@admin-auth.test", role: "agent" });
    expect(created.generatedPassword).toMatch(/^\S{16,}$/);
    expect(
      (
        await attemptLogin(db, {
          email: "new.agent@admin-auth.test",
          password: created.generatedPassword!,
          ip: "203.0.113.50",
          userAgent: null,
        })
      ).ok,
    ).toBe(true);
    await expect(
      createUser(
        db,
        { email: "new.agent@admin-auth.test", name: "", role: "admin", password: "" },
        by(admin.id, admin.email),
      ),
    ).rejects.toBeInstanceOf(UserError);
    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "user.create")
      .where("target_id", "=", created.user.id)
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({
      actor_id: admin.id,
      actor_label: admin.email,
      ip: "203.0.113.5",
    });
    expect(JSON.stringify(audit.details)).not.toContain(created.generatedPassword!);
  });

  it("there is always one enabled admin: the last one cannot be demoted or disabled", async () => {
    // Only this file's admins exist here; disable all but one.
    const keep = await makeUser("admin");
    const others = await db
      .selectFrom("admin_users")
      .select("id")
      .where("role", "=", "admin")
      .where("id", "!=", keep.id)
      .execute();
    for (const o of others)
      await db
        .updateTable("admin_users")
        .set({ disabled_at: new Date() })
        .where("id", "=", o.id)
        .execute();
    await expect(setUserRole(db, keep.id, "agent", system)).rejects.toMatchObject({
      code: "last_admin",
    });
    await expect(setUserDisabled(db, keep.id, true, system)).rejects.toMatchObject({
      code: "last_admin",
    });
    const second = await makeUser("admin");
    await setUserRole(db, keep.id, "agent", by(second.id, second.email));
    expect(
      (
        await db
          .selectFrom("admin_users")
          .select("role")
          .where("id", "=", keep.id)
          .executeTakeFirstOrThrow()
      ).role,
    ).toBe("agent");
    await expect(
      setUserDisabled(db, second.id, true, by(second.id, second.email)),
    ).rejects.toMatchObject({ code: "self" });
  });

  it("a password reset ends the user's sessions; changing one's own password keeps the current session only", async () => {
    const admin = await makeUser("admin");
    const u = await makeUser("agent");
    const s1 = await createSession(db, u.id, { ip: null, userAgent: null });
    await resetUserPassword(db, u.id, "a-brand-new-password", by(admin.id, admin.email));
    expect(await findSession(db, s1.id)).toBeNull();
    const s2 = await createSession(db, u.id, { ip: null, userAgent: null });
    const s3 = await createSession(db, u.id, { ip: null, userAgent: null });
    await expect(
      changeOwnPassword(db, {
        user: u,
        currentPassword: "wrong-wrong-wrong",
        newPassword: "another-new-password",
        keepSession: s2.session.idHash,
        by: by(u.id, u.email),
      }),
    ).rejects.toMatchObject({ code: "wrong_password" });
    await changeOwnPassword(db, {
      user: u,
      currentPassword: "a-brand-new-password",
      newPassword: "another-new-password",
      keepSession: s2.session.idHash,
      by: by(u.id, u.email),
    });
    expect(await findSession(db, s2.id)).not.toBeNull();
    expect(await findSession(db, s3.id)).toBeNull();
    expect(
      (
        await attemptLogin(db, {
          email: u.email,
          password: "another-new-password",
          ip: "203.0.113.60",
          userAgent: null,
        })
      ).ok,
    ).toBe(true);
  });
});

describe("cross-site writes to /admin are refused before Remix (express middleware)", () => {
  it("answers 403 to a foreign Origin or a cross-site Sec-Fetch-Site, and lets same-origin writes and other paths through", async () => {
    const express = (await import("express")).default;
    const { refuseCrossSiteAdminWrites } = await import("~/admin/provenance-middleware.server");
    const app = express();
    app.use(refuseCrossSiteAdminWrites);
    app.all("*", (_req, res) => {
      res.status(200).send("reached");
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const { port } = server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${base}${path}`, { method: "POST", headers, body: "a=1" });
    try {
      const foreign = await post("/admin/suppressions", { Origin: "https://evil.example" });
      expect(foreign.status).toBe(403);
      expect(await foreign.text()).toMatch(/cross-site request refused/);
      expect((await post("/admin/users", { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
      expect((await post("/admin/login", { "Sec-Fetch-Site": "same-site" })).status).toBe(403);
      expect(
        (await post("/admin/users", { Origin: base, "Sec-Fetch-Site": "same-origin" })).status,
      ).toBe(200);
      expect((await post("/admin/users", {})).status).toBe(200); // non-browser clients: the token decides
      expect((await post("/u/some-token", { Origin: "https://mail.example" })).status).toBe(200);
      expect(
        (await fetch(`${base}/admin/users`, { headers: { Origin: "https://evil.example" } }))
          .status,
      ).toBe(200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
