import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "~/admin/password.server";
import { commitSessionCookie, createSession } from "~/admin/session.server";
import { setDatabase, type Db } from "~/db/db.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { loader as outboxList } from "~/routes/dev.outbox._index";
import { loader as outboxMessage } from "~/routes/dev.outbox.$id";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Issue 11.8: /dev/outbox shows live preference links (anyone holding one changes that person's
 * consent), so in development it is served only to a client on this machine or to a logged-in
 * admin. (In production the route does not exist; the server's context says who is local:
 * tests/unit/dev-access.test.ts.)
 */
let t: TestDatabase;
let db: Db;
let messageId: string;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  const id = await enqueueOutbox(db, {
    kind: "email",
    recipient: "someone@dev-outbox.test",
    payload: { subject: "Your preferences", text: "https://x/p/secret-token" },
  });
  messageId = String(id);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

const ctx = (loopbackClient: boolean) =>
  ({
    clientIp: loopbackClient ? "127.0.0.1" : "192.0.2.7",
    nonce: "",
    requestId: "t",
    loopbackClient,
  }) as AppLoadContext;

async function outcome(p: Promise<unknown>): Promise<Response> {
  try {
    return (await p) as Response;
  } catch (e) {
    if (e instanceof Response) return e;
    throw e;
  }
}

async function sessionCookie(role: "admin" | "agent"): Promise<string> {
  const user = await db
    .insertInto("admin_users")
    .values({
      email: `${role}-${Math.random().toString(36).slice(2)}@dev-outbox.test`,
      role,
      name: null,
      password_hash: await hashPassword("dev-outbox-password"),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const session = await createSession(db, user.id, { ip: null, userAgent: null });
  return (await commitSessionCookie(session.id)).split(";")[0]!;
}

describe("/dev/outbox in development", () => {
  const list = (cookie?: string) =>
    new Request("http://192.0.2.1:3000/dev/outbox", { headers: cookie ? { Cookie: cookie } : {} });
  const one = (cookie?: string) =>
    new Request(`http://192.0.2.1:3000/dev/outbox/${messageId}`, {
      headers: cookie ? { Cookie: cookie } : {},
    });

  it("is served to a client on this machine without a login", async () => {
    expect(
      (await outcome(outboxList({ request: list(), params: {}, context: ctx(true) }))).status,
    ).toBe(200);
    const res = await outcome(
      outboxMessage({ request: one(), params: { id: messageId }, context: ctx(true) }),
    );
    expect(res.status).toBe(200);
  });

  it("asks anyone else to log in as an admin, and refuses an agent", async () => {
    for (const res of [
      await outcome(outboxList({ request: list(), params: {}, context: ctx(false) })),
      await outcome(
        outboxMessage({ request: one(), params: { id: messageId }, context: ctx(false) }),
      ),
    ]) {
      expect(res.status).toBe(302);
      expect(res.headers.get("Location")).toMatch(/^\/admin\/login/);
    }
    const agent = await sessionCookie("agent");
    expect(
      (await outcome(outboxList({ request: list(agent), params: {}, context: ctx(false) }))).status,
    ).toBe(403);
    const admin = await sessionCookie("admin");
    expect(
      (await outcome(outboxList({ request: list(admin), params: {}, context: ctx(false) }))).status,
    ).toBe(200);
    expect(
      (
        await outcome(
          outboxMessage({ request: one(admin), params: { id: messageId }, context: ctx(false) }),
        )
      ).status,
    ).toBe(200);
  });
});
