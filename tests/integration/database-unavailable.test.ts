/**
 * The HTTP layer's answers to database faults, through the same guard the server wraps around
 * every route (withDatabaseFaultHandling), on both databases: a closed PGlite instance and an
 * ended PostgreSQL pool are "unavailable" (503 + Retry-After in each route's shape), and a value
 * PostgreSQL refuses (a NUL byte, a number out of range) is the request's fault (400).
 * The same answers over real HTTP from the built server: database-faults.test.ts.
 */
import crypto from "node:crypto";
import type { AppLoadContext, ServerBuild } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "~/api/keys.server";
import { setDatabase, type Db } from "~/db/db.server";
import { resetEnvForTests } from "~/env.server";
import { withDatabaseFaultHandling } from "~/http/database-faults.server";
import { signLinkToken } from "~/links/tokens.server";
import { saveBranding } from "~/settings/settings.server";
import { clearRecipientCache, cachedBranding } from "~/recipient/cache.server";
import { twilioSignature } from "~/sms/providers/twilio.server";
import * as apiCheck from "~/routes/api.v1.check";
import * as apiEvents from "~/routes/api.v1.events";
import * as healthz from "~/routes/healthz";
import * as manage from "~/routes/manage";
import * as preferences from "~/routes/p.$token";
import * as unsubscribe from "~/routes/u.$token";
import * as twilio from "~/routes/webhooks.sms.twilio";
import type { FaultPageData } from "~/ui/fault-page";
import { createTestDatabase, type TestDatabase } from "../setup/db";

const TWILIO_TOKEN = "unavailable-twilio-token-0123456789";
const CONTEXT = { nonce: "", requestId: "t", clientIp: "203.0.113.9" } as AppLoadContext;

type Fn = (args: {
  request: Request;
  params: Record<string, string>;
  context: AppLoadContext;
}) => Promise<unknown>;
type Guarded = { loader?: Fn; action?: Fn };

// The route modules as the server sees them after withDatabaseFaultHandling.
const build = withDatabaseFaultHandling({
  routes: Object.fromEntries(
    Object.entries({
      "routes/u.$token": unsubscribe,
      "routes/p.$token": preferences,
      "routes/manage": manage,
      "routes/api.v1.check": apiCheck,
      "routes/api.v1.events": apiEvents,
      "routes/webhooks.sms.twilio": twilio,
      "routes/healthz": healthz,
    }).map(([id, module]) => [id, { id, path: id, module }]),
  ),
} as unknown as ServerBuild);
const route = (id: string) => build.routes[id]!.module as unknown as Guarded;

/** What the route answers: its returned Response, or the Response it throws. */
async function answer(
  id: string,
  method: string,
  path: string,
  init: { params?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  const request = new Request(`http://localhost:3000${path}`, {
    method,
    headers: init.headers,
    body: init.body,
  });
  const fn = method === "GET" ? route(id).loader : route(id).action;
  try {
    const r = await fn!({ request, params: init.params ?? {}, context: CONTEXT });
    if (r instanceof Response) return r;
    throw new Error(`${id} returned data, not a Response`);
  } catch (e) {
    if (e instanceof Response) return e;
    throw e;
  }
}

let t: TestDatabase;
let db: Db;
let token: string;
let prefToken: string;
let checkKey: string;
let eventsKey: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const k of ["TWILIO_AUTH_TOKEN", "PUBLIC_URL"]) saved[k] = process.env[k];
  process.env.TWILIO_AUTH_TOKEN = TWILIO_TOKEN;
  process.env.PUBLIC_URL = "https://heed.example.com";
  resetEnvForTests();
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await saveBranding(db, {
    organizationName: "Acme Shop",
    logoUrl: "",
    accentColor: "#7c3aed",
    privacyPolicyUrl: "",
    supportEmail: "",
  });
  clearRecipientCache();
  await cachedBranding(db); // what a server has read before the database went away
  const [c] = await db
    .insertInto("contacts")
    .values({ email: "unavailable@example.com" })
    .returning("id")
    .execute();
  token = await signLinkToken({ contactId: c!.id, channel: "email", purpose: "unsubscribe" });
  prefToken = await signLinkToken({ contactId: c!.id, channel: "email", purpose: "preferences" });
  checkKey = (await createApiKey(db, { name: "check", scopes: ["check"] })).key;
  eventsKey = (await createApiKey(db, { name: "events", scopes: ["events"] })).key;
});

afterAll(async () => {
  setDatabase(undefined);
  await t?.close().catch(() => {});
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetEnvForTests();
});

describe("values the database refuses", () => {
  it("a NUL byte in a recipient page's free text is a 400, and nothing changes", async () => {
    const res = await answer("routes/u.$token", "POST", `/u/${token}`, {
      params: { token },
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        intent: "unsubscribe",
        reason: "other",
        reasonText: "bad\0byte",
      }).toString(),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as FaultPageData).heedFault).toBe("invalid_input");
    const rows = await db.selectFrom("consent_ledger").select("id").execute();
    expect(rows).toHaveLength(0);
  });

  it("an API cursor out of range is a 400 in the API's error shape", async () => {
    const res = await answer(
      "routes/api.v1.events",
      "GET",
      "/api/v1/events?after=1-9223372036854775808",
      {
        headers: { Authorization: `Bearer ${eventsKey}` },
      },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_request" } });
  });
});

describe(`a database that is gone (${process.env.HEED_TEST_DB ?? "pglite"}: ${
  (process.env.HEED_TEST_DB ?? "pglite") === "pglite" ? "a closed PGlite" : "an ended pool"
})`, () => {
  beforeAll(async () => {
    if (t.pglite) await t.pglite.close();
    else if (t.pgliteWorker) await t.pgliteWorker.close();
    else await t.pool!.end();
  });

  it("a recipient page answers 503 + Retry-After with a localized, branded page", async () => {
    const res = await answer("routes/u.$token", "GET", `/u/${token}`, {
      params: { token },
      headers: { "Accept-Language": "de-DE,de;q=0.9" },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const data = (await res.json()) as FaultPageData;
    expect(data).toMatchObject({
      heedFault: "database_unavailable",
      audience: "public",
      i18n: { locale: "de" },
      branding: { organizationName: "Acme Shop", accentColor: "#7c3aed" },
    });
    const pref = await answer("routes/p.$token", "GET", `/p/${prefToken}`, {
      params: { token: prefToken },
    });
    expect(pref.status).toBe(503);
    const m = await answer("routes/manage", "POST", "/manage", {
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "email=someone%40example.com",
    });
    expect(m.status).toBe(503);
    expect(m.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("an RFC 8058 one-click answers 503 + Retry-After (the provider retries)", async () => {
    const res = await answer("routes/u.$token", "POST", `/u/${token}`, {
      params: { token },
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("the API answers 503 database_unavailable with Retry-After", async () => {
    const res = await answer("routes/api.v1.check", "POST", "/api/v1/check", {
      headers: { Authorization: `Bearer ${checkKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        channel: "email",
        category: "marketing",
        recipients: ["a@example.com"],
      }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await res.json()).toMatchObject({ error: { code: "database_unavailable" } });
  });

  it("the Twilio webhook answers a plain 503 with Retry-After (Twilio retries)", async () => {
    const url = "https://heed.example.com/webhooks/sms/twilio";
    const fields: [string, string][] = [
      ["From", "+48601000111"],
      ["Body", "STOP"],
      ["MessageSid", `SM${crypto.randomBytes(16).toString("hex")}`],
    ];
    const res = await answer("routes/webhooks.sms.twilio", "POST", "/webhooks/sms/twilio", {
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilioSignature(TWILIO_TOKEN, url, fields),
      },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  });

  it("/healthz answers 503 with Retry-After", async () => {
    const res = await answer("routes/healthz", "GET", "/healthz");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(t.health.available).toBe(false);
  });
});
