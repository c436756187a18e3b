import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfTokenFor } from "~/admin/csrf.server";
import { hashPassword } from "~/admin/password.server";
import { commitSessionCookie, createSession } from "~/admin/session.server";
import { verifyApiKey } from "~/api/keys.server";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import * as apiKeysRoute from "~/routes/admin.api-keys";
import * as webhookRoute from "~/routes/admin.webhooks.$id";
import * as webhooksRoute from "~/routes/admin.webhooks._index";
import { withWebhookTables } from "~/webhooks/schema";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { CONTEXT } from "./api.helpers";

/** The admin pages for API keys and webhooks: admins only, CSRF-checked, audited, shown once. */

let t: TestDatabase;
let db: Db;
const ORIGIN = "http://localhost:3000";
type Login = { cookie: string; csrf: string };
let admin: Login;
let agent: Login;

async function login(role: "admin" | "agent"): Promise<Login> {
  const user = await db
    .insertInto("admin_users")
    .values({
      email: `api-${role}@admin.test`,
      role,
      name: null,
      password_hash: await hashPassword("a-long-password-1"),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const { id, session } = await createSession(db, user.id, { ip: null, userAgent: null });
  return { cookie: (await commitSessionCookie(id)).split(";")[0]!, csrf: csrfTokenFor(session) };
}

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  admin = await login("admin");
  agent = await login("agent");
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

type Mod = {
  loader: (a: never) => Promise<Response>;
  action: (a: never) => Promise<Response>;
};

async function run(p: Promise<Response>): Promise<Response> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof Response) return e;
    throw e;
  }
}

function get(mod: Mod, who: Login | null, path: string, params: Record<string, string> = {}) {
  const request = new Request(`${ORIGIN}${path}`, { headers: who ? { Cookie: who.cookie } : {} });
  return run(mod.loader({ request, params, context: CONTEXT } as never));
}

function post(
  mod: Mod,
  who: Login,
  path: string,
  fields: [string, string][],
  params: Record<string, string> = {},
) {
  const body = new URLSearchParams([["csrf", who.csrf], ...fields]);
  const request = new Request(`${ORIGIN}${path}`, {
    method: "POST",
    headers: {
      Cookie: who.cookie,
      Origin: ORIGIN,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body,
  });
  return run(mod.action({ request, params, context: CONTEXT } as never));
}

async function auditRows(action: string) {
  return db.selectFrom("audit_log").selectAll().where("action", "=", action).execute();
}

describe("/admin/api-keys", () => {
  it("is for admins only", async () => {
    expect((await get(apiKeysRoute, null, "/admin/api-keys")).status).toBe(302);
    expect((await get(apiKeysRoute, agent, "/admin/api-keys")).status).toBe(403);
    expect(
      (
        await post(apiKeysRoute, agent, "/admin/api-keys", [
          ["intent", "create"],
          ["name", "x"],
          ["scopes", "check"],
        ])
      ).status,
    ).toBe(403);
    expect((await get(apiKeysRoute, admin, "/admin/api-keys")).status).toBe(200);
  });

  it("creates a key shown once, audited without the secret; revoking stops it", async () => {
    const missing = await post(apiKeysRoute, admin, "/admin/api-keys", [
      ["intent", "create"],
      ["name", "Sender"],
    ]);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({
      ok: false,
      fieldErrors: { scopes: "Choose at least one scope." },
    });

    const res = await post(apiKeysRoute, admin, "/admin/api-keys", [
      ["intent", "create"],
      ["name", "Sender"],
      ["scopes", "check"],
      ["scopes", "links"],
    ]);
    const body = (await res.json()) as { ok: boolean; key: string };
    expect(body.ok).toBe(true);
    const principal = await verifyApiKey(db, body.key);
    expect(principal).toMatchObject({ name: "Sender", scopes: ["check", "links"] });
    const [created] = await auditRows("api_key.create");
    expect(created).toMatchObject({ target_id: principal!.id, actor_type: "admin_user" });
    // heed_<12 hex>_<43 base64url>: the secret may itself contain "_", so cut by position.
    const secret = body.key.slice("heed_".length + 12 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(created)).not.toContain(secret);
    // The list never shows the key again.
    const list = await (await get(apiKeysRoute, admin, "/admin/api-keys")).text();
    expect(list).not.toContain(body.key);

    const revoked = await post(apiKeysRoute, admin, "/admin/api-keys", [
      ["intent", "revoke"],
      ["id", principal!.id],
    ]);
    expect(await revoked.json()).toMatchObject({ ok: true });
    expect(await verifyApiKey(db, body.key)).toBeNull();
    expect(await auditRows("api_key.revoke")).toHaveLength(1);
    const again = await post(apiKeysRoute, admin, "/admin/api-keys", [
      ["intent", "revoke"],
      ["id", principal!.id],
    ]);
    expect(again.status).toBe(400);
  });

  it("refuses a form without the CSRF token", async () => {
    const request = new Request(`${ORIGIN}/admin/api-keys`, {
      method: "POST",
      headers: { Cookie: admin.cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ intent: "create", name: "x", scopes: "check" }),
    });
    expect((await run(apiKeysRoute.action({ request, params: {}, context: CONTEXT }))).status).toBe(
      403,
    );
  });
});

describe("/admin/webhooks", () => {
  it("registers an endpoint with a secret shown once, refuses private URLs, lists and retries deliveries", async () => {
    expect((await get(webhooksRoute, agent, "/admin/webhooks")).status).toBe(403);
    const refused = await post(webhooksRoute, admin, "/admin/webhooks", [
      ["intent", "create"],
      ["url", "http://10.0.0.8/hook"],
      ["eventTypes", "consent.unsubscribe"],
    ]);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      fieldErrors: { url: expect.stringContaining("private") },
    });

    const res = await post(webhooksRoute, admin, "/admin/webhooks", [
      ["intent", "create"],
      ["url", "https://93.184.215.14/heed"],
      ["description", "CRM"],
      ["eventTypes", "consent.unsubscribe"],
    ]);
    const body = (await res.json()) as { ok: boolean; secret: string; id: string };
    expect(body).toMatchObject({ ok: true, secret: expect.stringMatching(/^whsec_/) });
    expect(await auditRows("webhook.create")).toHaveLength(1);
    expect(await (await get(webhooksRoute, admin, "/admin/webhooks")).text()).not.toContain(
      body.secret,
    );

    await applyConsentChange(db, {
      channel: "email",
      address: "wh-admin@example.com",
      action: "unsubscribe",
      source: "api",
    });
    const page = await get(webhookRoute, admin, `/admin/webhooks/${body.id}`, { id: body.id });
    const data = (await page.json()) as { deliveries: { outboxId: number; status: string }[] };
    expect(data.deliveries).toEqual([expect.objectContaining({ status: "pending" })]);
    const outboxId = data.deliveries[0]!.outboxId;

    // Only dead deliveries of this endpoint can be retried.
    const notDead = await post(
      webhookRoute,
      admin,
      `/admin/webhooks/${body.id}`,
      [
        ["intent", "retry"],
        ["outboxId", String(outboxId)],
      ],
      { id: body.id },
    );
    expect(notDead.status).toBe(400);
    await db
      .updateTable("outbox")
      .set({ status: "dead", attempts: 8 })
      .where("id", "=", outboxId)
      .execute();
    const retried = await post(
      webhookRoute,
      admin,
      `/admin/webhooks/${body.id}`,
      [
        ["intent", "retry"],
        ["outboxId", String(outboxId)],
      ],
      { id: body.id },
    );
    expect(await retried.json()).toMatchObject({ ok: true });
    expect(
      await db
        .selectFrom("outbox")
        .select(["status", "attempts"])
        .where("id", "=", outboxId)
        .executeTakeFirst(),
    ).toEqual({ status: "pending", attempts: 0 });

    const disabled = await post(
      webhookRoute,
      admin,
      `/admin/webhooks/${body.id}`,
      [["intent", "disable"]],
      { id: body.id },
    );
    expect(await disabled.json()).toMatchObject({ ok: true });
    const endpoint = await withWebhookTables(db)
      .selectFrom("webhook_endpoints")
      .selectAll()
      .where("id", "=", body.id)
      .executeTakeFirstOrThrow();
    expect(endpoint.enabled).toBe(false);

    const deleted = await post(
      webhookRoute,
      admin,
      `/admin/webhooks/${body.id}`,
      [["intent", "delete"]],
      { id: body.id },
    );
    expect(deleted.status).toBe(302);
    expect(
      (await get(webhookRoute, admin, `/admin/webhooks/${body.id}`, { id: body.id })).status,
    ).toBe(404);
    expect((await get(webhookRoute, admin, "/admin/webhooks/nope", { id: "nope" })).status).toBe(
      404,
    );
  });
});
