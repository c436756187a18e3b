/**
 * Bad input never answers 5xx (issue 11, item 6): one walk over every route and every field of
 * the real built server (production mode, its own process, real HTTP), on PGlite and PostgreSQL,
 * with hostile values: a NUL, a lone UTF-16 surrogate, a 1 MB string, numbers out of range.
 *
 * - Pages: every route file is listed below with the URLs that reach it (the test fails when a
 *   route file is missing from the list). Each page is fetched with hostile query parameters,
 *   then every form it renders (found in its HTML: inputs, selects, textareas, named buttons) is
 *   sent once per field and hostile value, the other fields keeping their rendered values.
 * - The sender API: every operation (the test fails when one is missing) from a valid request,
 *   with each path parameter, query parameter and JSON leaf replaced by each hostile value.
 * - Provider webhooks: the Twilio webhook with valid signatures and hostile fields; every other
 *   webhook with hostile unsigned bodies.
 * - The edge: hostile raw URLs and methods.
 *
 * Every answer must be below 500. The walk logs in as an admin of its own and never sends a form
 * that acts on that admin, so the session lasts (checked at the end).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { hashPassword } from "~/admin/password.server";
import { createApiKey } from "~/api/keys.server";
import { OPERATIONS } from "~/api/operations";
import { ensureDemoData } from "~/boot/boot.server";
import { upsertCampaign } from "~/campaigns/campaigns.server";
import { openPglite, type Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { createShortLink } from "~/links/short-links.server";
import { signLinkToken } from "~/links/tokens.server";
import { twilioSignature } from "~/sms/providers/twilio.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { startServer, type RunningServer } from "./server.helpers";

const kind = process.env.HEED_TEST_DB ?? "pglite";
const TWILIO_TOKEN = "hostile-twilio-auth-token-0123456789";
const WALKER = { email: "walker@hostile.test", password: "walker-password-0123" };

/** Hostile values, percent-encoded for a form or a query string. */
const FORM_VALUES: [label: string, encoded: string][] = [
  ["NUL", "a%00b"],
  ["lone surrogate", "%ED%A0%80x"], // the UTF-8 bytes of U+D800, which UTF-8 may not hold
  ["1 MB", "x".repeat(1_000_000)],
  ["2^63", "9223372036854775808"],
  ["-1", "-1"],
  ["1e309", "1e309"],
  ["20 digits", "99999999999999999999"],
];
/**
 * The same in a URL: Node refuses request heads over 16 KB (431, connection closed), so a long
 * value is 1,000 characters here (ten of them in one query string); the edge test sends one URL
 * of 10,000.
 */
const QUERY_VALUES: [label: string, encoded: string][] = FORM_VALUES.map(([label, v]) =>
  label === "1 MB" ? ["1k", "x".repeat(1_000)] : [label, v],
);
/** Hostile values as raw JSON text. */
const JSON_VALUES: [label: string, json: string][] = [
  ["NUL", '"a\\u0000b"'],
  ["lone surrogate", '"\\ud800x"'],
  ["1 MB", JSON.stringify("x".repeat(1_000_000))],
  ["2^63", "9223372036854775808"],
  ["2^63 text", '"9223372036854775808"'],
  ["-1", "-1"],
  ["1e400", "1e400"],
];
/** Hostile path segments (a 1 MB URL would only meet Node's header limit: 10,000 characters). */
const PATH_VALUES: [label: string, encoded: string][] = [
  ["NUL", "a%00b"],
  ["lone surrogate", "%ED%A0%80x"],
  ["bad escape", "%E0%A4%A"],
  ["10k", "x".repeat(10_000)],
  ["2^63", "9223372036854775808"],
  ["-1", "-1"],
];

type Fx = {
  apiKey: string;
  externalId: string;
  contactId: string;
  unsubscribe: string;
  preferences: string;
  confirm: string;
  shortCode: string;
  webhookId: string;
  walkerId: string;
};

let server: RunningServer;
let pgTest: TestDatabase | null = null;
let dataDir: string;
let fx: Fx;
let cookie = "";
const failures: string[] = [];
let requests = 0;

async function seed(db: Db): Promise<Fx> {
  await ensureDemoData(db, getEnv());
  const walker = await db
    .insertInto("admin_users")
    .values({
      email: WALKER.email,
      role: "admin",
      name: "Walker",
      password_hash: await hashPassword(WALKER.password),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const contact = await db
    .insertInto("contacts")
    .values({ external_id: "hostile-1", email: "hostile@hostile.test", phone: "+48601000123" })
    .returning("id")
    .executeTakeFirstOrThrow();
  await upsertCampaign(db, {
    key: "spring",
    name: "Spring",
    channel: "email",
    topic: "newsletter",
    sentCount: 10,
  } as Parameters<typeof upsertCampaign>[1]);
  const endpoint = await createWebhookEndpoint(
    db,
    { url: "https://93.184.215.14/hook", eventTypes: ["consent.unsubscribe"] },
    { allowPrivate: false, requireHttps: true },
  );
  if (!endpoint.ok) throw new Error("webhook endpoint fixture");
  const sign = (purpose: "unsubscribe" | "preferences" | "confirm") =>
    signLinkToken({ contactId: contact.id, channel: "email", purpose });
  const preferences = await sign("preferences");
  return {
    apiKey: (
      await createApiKey(db, {
        name: "hostile walker",
        scopes: ["links", "check", "contacts", "suppressions", "events"],
      })
    ).key,
    externalId: "hostile-1",
    contactId: contact.id,
    unsubscribe: await sign("unsubscribe"),
    preferences,
    confirm: await sign("confirm"),
    shortCode: await createShortLink(db, `/p/${preferences}`),
    webhookId: String(endpoint.endpoint.id),
    walkerId: walker.id,
  };
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-hostile-"));
  const env: Record<string, string> = {
    HEED_DATA_DIR: dataDir,
    API_RATE_LIMIT_PER_MINUTE: "1000000",
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`,
    LOG_LEVEL: "warn",
  };
  if (kind === "pglite") {
    const handle = await openPglite(dataDir, {
      loadDataDir: new Blob([fs.readFileSync(inject("pgliteTemplate"))]),
    });
    try {
      fx = await seed(handle.db);
    } finally {
      await handle.close();
    }
  } else {
    pgTest = await createTestDatabase();
    fx = await seed(pgTest.db);
    env.DATABASE_URL = pgTest.url!;
  }
  server = await startServer(env);
  cookie = await login();
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await pgTest?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function login(): Promise<string> {
  const res = await fetch(`${server.url}/admin/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(WALKER).toString(),
    redirect: "manual",
  });
  const c = res.headers
    .getSetCookie()
    .map((s) => s.split(";")[0])
    .join("; ");
  if (res.status !== 302 || !c) throw new Error(`walker login failed: ${res.status}`);
  return c;
}

/** One raw HTTP request (any method, any bytes), answered with its status and body. */
function send(
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  requests++;
  // Keep-alive, as browsers and HTTP clients send: a refusal (413) answered before the body is
  // read then reaches the client while it is still sending (Node drops the rest of the body).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body, "utf8");
    const req = http.request(
      `${server.url}${target}`,
      {
        method,
        agent,
        headers: {
          ...(body ? { "Content-Length": String(body.length) } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  }).finally(() => agent.destroy());
}

async function expectNo5xx(
  what: string,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  let answer: { status: number; body: string };
  try {
    answer = await send(method, target, options);
  } catch (e) {
    failures.push(`${what}: ${method} ${target.slice(0, 120)} → ${(e as Error).message}`);
    return 0;
  }
  if (answer.status >= 500) {
    failures.push(
      `${what}: ${method} ${target.slice(0, 120)} → ${answer.status} ${answer.body.slice(0, 200)}`,
    );
  }
  return answer.status;
}

// ---------------------------------------------------------------------------------------------
// Forms, as the pages render them

type Field = { name: string; value: string };
type FormSpec = { method: "get" | "post"; action: string; fields: Field[] };

const decodeEntities = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? decodeEntities(m[1]!) : null;
}

/** Every form of a page, once per named submit button (intent=...). */
function formsOf(html: string, pageUrl: string): FormSpec[] {
  const out: FormSpec[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const open = m[1]!;
    const inner = m[2]!;
    const method = (attr(open, "method") ?? "get").toLowerCase() === "post" ? "post" : "get";
    const action = attr(open, "action") ?? pageUrl;
    const fields: Field[] = [];
    for (const s of inner.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/g)) {
      const name = attr(s[1]!, "name");
      const first = /<option\b([^>]*)>/.exec(s[2]!);
      if (name) fields.push({ name, value: (first && attr(first[1]!, "value")) ?? "" });
    }
    for (const t of inner.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/g)) {
      const name = attr(t[1]!, "name");
      if (name) fields.push({ name, value: decodeEntities(t[2]!) });
    }
    const seenRadio = new Set<string>();
    for (const i of inner.matchAll(/<input\b([^>]*)>/g)) {
      const name = attr(i[1]!, "name");
      const type = (attr(i[1]!, "type") ?? "text").toLowerCase();
      if (!name || type === "submit" || type === "file") continue;
      if (type === "radio") {
        if (seenRadio.has(name)) continue;
        seenRadio.add(name);
      }
      fields.push({ name, value: attr(i[1]!, "value") ?? "" });
    }
    const buttons = [...inner.matchAll(/<button\b([^>]*)>/g)]
      .map((b) => ({ name: attr(b[1]!, "name"), value: attr(b[1]!, "value") ?? "" }))
      .filter((b): b is Field => b.name !== null);
    if (buttons.length === 0) out.push({ method, action, fields });
    for (const b of buttons) out.push({ method, action, fields: [...fields, b] });
  }
  return out;
}

const enc = (v: string) => encodeURIComponent(v);

function encodeForm(fields: Field[], hostile: { name: string; encoded: string }): string {
  return fields
    .map((f) =>
      f.name === hostile.name
        ? `${enc(f.name)}=${hostile.encoded}`
        : `${enc(f.name)}=${enc(f.value)}`,
    )
    .join("&");
}

/** True for a form that would act on the walker's own account (or end its session). */
function touchesWalker(form: FormSpec): boolean {
  return (
    form.action.startsWith("/admin/logout") ||
    form.fields.some((f) => f.value === fx.walkerId) ||
    form.action.includes(fx.walkerId)
  );
}

const walkedForms = new Set<string>();

async function walkPage(route: string, url: string, headers: Record<string, string>) {
  const page = await send("GET", url, { headers });
  if (page.status >= 500) failures.push(`${route}: GET ${url} → ${page.status}`);
  // Hostile query parameters (search, filters, cursors, pages).
  for (const [label, v] of QUERY_VALUES) {
    const q = ["q", "before", "after", "page", "channel", "source", "action", "actor", "to", "from"]
      .map((k) => `${k}=${v}`)
      .join("&");
    await expectNo5xx(
      `${route} query ${label}`,
      "GET",
      `${url}${url.includes("?") ? "&" : "?"}${q}`,
      {
        headers,
      },
    );
  }
  for (const form of formsOf(page.body, url)) {
    if (touchesWalker(form)) continue;
    const key = `${form.method} ${form.action} ${form.fields.map((f) => `${f.name}=${f.name === "intent" ? f.value : ""}`).join(",")}`;
    if (walkedForms.has(key)) continue;
    walkedForms.add(key);
    for (const field of form.fields) {
      for (const [label, encoded] of form.method === "get" ? QUERY_VALUES : FORM_VALUES) {
        const body = encodeForm(form.fields, { name: field.name, encoded });
        const what = `${route} form ${form.action} field ${field.name} = ${label}`;
        if (form.method === "get") {
          const base = form.action.split("?")[0]!;
          await expectNo5xx(what, "GET", `${base}?${body}`, { headers });
        } else {
          await expectNo5xx(what, "POST", form.action, {
            headers: {
              ...headers,
              "Content-Type": "application/x-www-form-urlencoded",
              "Sec-Fetch-Site": "same-origin",
            },
            body,
          });
        }
      }
    }
  }
}

/** Runs `work` for every item, `lanes` at a time: each lane takes the next item when it is done. */
async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Every route file of app/routes and the URLs that reach it (null: reached another way). */
function routeUrls(): Record<string, string[] | null> {
  const c = fx.contactId;
  return {
    "_index.tsx": ["/"],
    "healthz.ts": ["/healthz"],
    "branding.logo.$file.ts": ["/branding/logo/0123456789abcdef.png"],
    "manage.tsx": ["/manage"],
    "u.$token.tsx": [`/u/${fx.unsubscribe}`],
    "p.$token.tsx": [`/p/${fx.preferences}`],
    "c.$token.tsx": [`/c/${fx.confirm}`],
    "s.$code.tsx": [`/s/${fx.shortCode}`],
    "dev.outbox._index.tsx": ["/dev/outbox"],
    "dev.outbox.$id.tsx": ["/dev/outbox/1"],
    "admin_.login.tsx": ["/admin/login"],
    "admin_.logout.tsx": null, // its form is on every admin page; sending it would end the walk
    "admin.tsx": null, // the layout of every admin page
    "admin._index.tsx": ["/admin"],
    "admin.account.tsx": ["/admin/account"],
    "admin.api-keys.tsx": ["/admin/api-keys"],
    "admin.audit.tsx": ["/admin/audit"],
    "admin.branding.tsx": ["/admin/branding"],
    "admin.contacts._index.tsx": ["/admin/contacts?q=hostile"],
    "admin.contacts.$id.tsx": [`/admin/contacts/${c}`],
    "admin.contacts.$id_.erase.tsx": [`/admin/contacts/${c}/erase`],
    "admin_.contacts.$id.export.tsx": [`/admin/contacts/${c}/export`],
    "admin_.contacts.$id.export[.json].ts": [`/admin/contacts/${c}/export.json`],
    "admin.email.tsx": ["/admin/email"],
    "admin.frequency.tsx": ["/admin/frequency"],
    "admin.ledger.tsx": ["/admin/ledger"],
    "admin.phone-numbers.tsx": ["/admin/phone-numbers"],
    "admin.sources._index.tsx": ["/admin/sources"],
    "admin.sources.$id.tsx": [`/admin/sources/${crypto.randomUUID()}`],
    "admin.exports._index.tsx": ["/admin/exports"],
    "admin.exports.suppressions[.]csv.ts": ["/admin/exports/suppressions.csv"],
    "admin.imports._index.tsx": ["/admin/imports"],
    "admin.imports.$id.tsx": [`/admin/imports/${crypto.randomUUID()}`],
    "admin.imports.$id_.errors[.]csv.ts": [`/admin/imports/${crypto.randomUUID()}/errors.csv`],
    "admin.outbox.tsx": ["/admin/outbox"],
    "admin.reasons.tsx": ["/admin/reasons"],
    "admin.reports.tsx": ["/admin/reports"],
    "admin.reports_.alerts.tsx": ["/admin/reports/alerts"],
    "admin.reports_.campaigns.$key.tsx": ["/admin/reports/campaigns/spring"],
    "admin.reports_.csv.$table.ts": ["/admin/reports/csv/leaving"],
    "admin.sms.review.tsx": ["/admin/sms/review"],
    "admin.suppressions.tsx": ["/admin/suppressions"],
    "admin.topics._index.tsx": ["/admin/topics"],
    "admin.topics.$key.tsx": ["/admin/topics/newsletter"],
    "admin.topics.new.tsx": ["/admin/topics/new"],
    "admin.users.tsx": ["/admin/users"],
    "admin.webhooks._index.tsx": ["/admin/webhooks"],
    "admin.webhooks.$id.tsx": [`/admin/webhooks/${fx.webhookId}`],
  };
}

// ---------------------------------------------------------------------------------------------
// The sender API

type ApiBase = {
  path: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
};

function apiBases(): Record<string, ApiBase> {
  const ext = fx.externalId;
  return {
    putContact: {
      path: "/api/v1/contacts/{externalId}",
      params: { externalId: "hostile-put" },
      body: { email: "put@hostile.test", phone: "+48601000124", locale: "en" },
    },
    getPreferences: {
      path: "/api/v1/contacts/{externalId}/preferences",
      params: { externalId: ext },
    },
    exportContact: {
      path: "/api/v1/contacts/{externalId}/export",
      params: { externalId: ext },
    },
    patchPreferences: {
      path: "/api/v1/contacts/{externalId}/preferences",
      params: { externalId: ext },
      body: {
        channels: {
          email: { status: "subscribed", pausedUntil: null, topics: { newsletter: true } },
        },
        reason: { code: "no_longer_interested", text: "walk" },
        campaign: "spring",
      },
    },
    createLinks: {
      path: "/api/v1/links",
      body: { externalId: ext, channel: "email", topic: "newsletter", campaign: "spring" },
    },
    createLinksBatch: {
      path: "/api/v1/links/batch",
      body: { channel: "email", topic: "newsletter", campaign: "spring", externalIds: [ext] },
    },
    check: {
      path: "/api/v1/check",
      body: {
        channel: "email",
        topic: "newsletter",
        category: "marketing",
        recipients: ["a@hostile.test"],
      },
    },
    suppress: {
      path: "/api/v1/suppressions",
      body: {
        channel: "email",
        addresses: ["suppressed@hostile.test"],
        note: "walk",
        reason: "no_longer_interested",
        campaign: "spring",
      },
    },
    exportSuppressions: {
      path: "/api/v1/suppressions.csv",
      query: {
        channel: "email",
        source: "api",
        since: "2026-01-01T00:00:00Z",
        until: "2027-01-01T00:00:00Z",
      },
    },
    upsertCampaign: {
      path: "/api/v1/campaigns",
      body: { key: "spring", name: "Spring", channel: "email", topic: "newsletter", sentCount: 10 },
    },
    subscribe: {
      path: "/api/v1/subscriptions",
      body: {
        channel: "email",
        address: "subscribe@hostile.test",
        topics: ["newsletter"],
        locale: "en",
      },
    },
    listEvents: { path: "/api/v1/events", query: { after: "0-0", limit: "10" } },
    openapi: { path: "/api/v1/openapi.json" },
  };
}

/** The paths of every leaf (string, number, boolean, null; array items) of a JSON value. */
function leaves(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...at, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  }
  return [at];
}

const PLACEHOLDER = "__hostile_value__";

function withRaw(body: unknown, at: (string | number)[], json: string): string {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const k of at.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[at[at.length - 1]!] = PLACEHOLDER;
  return JSON.stringify(copy).replace(`"${PLACEHOLDER}"`, json);
}

function apiUrl(base: ApiBase, params: Record<string, string>, query: string): string {
  let p = base.path;
  for (const [k, v] of Object.entries(params)) p = p.replace(`{${k}}`, v);
  return query ? `${p}?${query}` : p;
}

// ---------------------------------------------------------------------------------------------

describe(`hostile input never answers 5xx (${kind})`, () => {
  beforeEach(() => {
    failures.length = 0;
  });

  it("every page and every field of every form", async () => {
    const routesDir = path.resolve(import.meta.dirname, "../../app/routes");
    const files = fs
      .readdirSync(routesDir)
      .filter((f) => !f.startsWith("api") && !f.startsWith("webhooks"))
      .sort();
    const urls = routeUrls();
    // A new route must be added to the walk.
    expect(files).toEqual(Object.keys(urls).sort());
    const admin = { Cookie: cookie };
    const pages = Object.entries(urls).flatMap(([route, list]) =>
      (list ?? []).map((url) => [route, url] as const),
    );
    // Three pages are walked at a time (each page's requests one after another): the walk's
    // client, the server and its database then use both cores, and the walk takes about half
    // as long. A form reached from two pages is still sent once (walkedForms is claimed before
    // the first request).
    await inLanes(pages, 3, ([route, url]) =>
      walkPage(route, url, route.startsWith("admin") ? admin : {}),
    );
    // The walk really ran logged in, to the end.
    const still = await send("GET", "/admin/account", { headers: admin });
    expect(still.status).toBe(200);
    expect(walkedForms.size).toBeGreaterThan(30);
    expect(failures).toEqual([]);
  }, 900_000);

  it("every operation of the sender API, every parameter and JSON field", async () => {
    const bases = apiBases();
    expect(OPERATIONS.map((o) => o.operationId).sort()).toEqual(Object.keys(bases).sort());
    const auth = { Authorization: `Bearer ${fx.apiKey}` };
    for (const op of OPERATIONS) {
      const base = bases[op.operationId]!;
      const params = base.params ?? {};
      const query = new URLSearchParams(base.query ?? {}).toString();
      const body = base.body === undefined ? undefined : JSON.stringify(base.body);
      const headers = { ...auth, ...(body ? { "Content-Type": "application/json" } : {}) };
      // The valid request itself answers below 400.
      const ok = await send(op.method, apiUrl(base, params, query), { headers, body });
      expect(ok.status, `${op.operationId}: ${ok.body.slice(0, 300)}`).toBeLessThan(400);
      for (const [label, v] of PATH_VALUES) {
        for (const name of Object.keys(params)) {
          await expectNo5xx(
            `${op.operationId} path ${name} = ${label}`,
            op.method,
            apiUrl(base, { ...params, [name]: v }, query),
            { headers, body },
          );
        }
      }
      for (const [label, v] of QUERY_VALUES) {
        for (const name of [...Object.keys(base.query ?? {}), "unknown"]) {
          const q = new URLSearchParams(base.query ?? {});
          q.delete(name);
          const hostileQuery = [q.toString(), `${name}=${v}`].filter(Boolean).join("&");
          await expectNo5xx(
            `${op.operationId} query ${name} = ${label}`,
            op.method,
            apiUrl(base, params, hostileQuery),
            { headers, body },
          );
        }
      }
      if (base.body !== undefined) {
        for (const at of leaves(base.body)) {
          for (const [label, json] of JSON_VALUES) {
            await expectNo5xx(
              `${op.operationId} body ${at.join(".")} = ${label}`,
              op.method,
              apiUrl(base, params, query),
              { headers, body: withRaw(base.body, at, json) },
            );
          }
        }
        // The whole body hostile: not an object, deeply nested, a huge array.
        for (const [label, raw] of [
          ["null", "null"],
          ["a string", '"a\\u0000b"'],
          ["deep", `${"[".repeat(5000)}${"]".repeat(5000)}`],
          [
            "big array",
            JSON.stringify({ ...(base.body as object), recipients: Array(20_000).fill("a@b.co") }),
          ],
        ] as const) {
          await expectNo5xx(
            `${op.operationId} body ${label}`,
            op.method,
            apiUrl(base, params, query),
            {
              headers,
              body: raw,
            },
          );
        }
      }
    }
    expect(failures).toEqual([]);
  }, 900_000);

  it("provider webhooks: signed Twilio requests with hostile fields, unsigned hostile bodies elsewhere", async () => {
    const fields: Field[] = [
      { name: "MessageSid", value: `SM${"1".repeat(32)}` },
      { name: "AccountSid", value: `AC${"0".repeat(32)}` },
      { name: "From", value: "+48601000123" },
      { name: "To", value: "+15005550006" },
      { name: "Body", value: "STOP" },
    ];
    const url = `${server.url}/webhooks/sms/twilio`;
    for (const field of fields) {
      for (const [label, encoded] of FORM_VALUES) {
        const body = encodeForm(fields, { name: field.name, encoded });
        // Signed over what the server will decode (URLSearchParams turns bad UTF-8 into U+FFFD).
        const signed = [...new URLSearchParams(body)] as [string, string][];
        await expectNo5xx(`twilio ${field.name} = ${label}`, "POST", "/webhooks/sms/twilio", {
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilioSignature(TWILIO_TOKEN, url, signed),
          },
          body,
        });
      }
    }
    const hooks = fs
      .readdirSync(path.resolve(import.meta.dirname, "../../app/routes"))
      .filter((f) => f.startsWith("webhooks."))
      .map(
        (f) =>
          `/${f
            .replace(/\.tsx?$/, "")
            .split(".")
            .join("/")}`,
      );
    expect(hooks.length).toBeGreaterThan(5);
    for (const hook of hooks) {
      for (const [label, encoded] of FORM_VALUES) {
        await expectNo5xx(`${hook} form ${label}`, "POST", hook, {
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: `From=${encoded}&Body=${encoded}&MessageSid=${encoded}&text=${encoded}`,
        });
      }
      for (const [label, json] of JSON_VALUES) {
        await expectNo5xx(`${hook} json ${label}`, "POST", hook, {
          headers: { "Content-Type": "application/json" },
          body: `{"type":${json},"data":[{"email":${json},"event":${json}}],"Records":${json}}`,
        });
      }
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it("the edge: hostile URLs and methods", async () => {
    for (const target of [
      "/%00",
      "/u/%00",
      "/p/%ED%A0%80",
      "/%E0%A4%A",
      "/admin/contacts/%00",
      "/admin/contacts/99999999999999999999",
      "/admin/imports/-1",
      "/admin/webhooks/9223372036854775808",
      "/dev/outbox/9223372036854775808",
      "/api/v1/events?after=1-9223372036854775808",
      "/api/v1/events?after=99999999999999999999-99999999999999999999",
      "/api/v1/events?limit=1e309",
      `/u/${"a".repeat(10_000)}`,
      "/s/%00",
      "/build/%00",
      "/favicon.ico%00",
    ]) {
      await expectNo5xx("edge", "GET", target, { headers: { Cookie: cookie } });
    }
    for (const method of ["TRACE", "PROPFIND", "PURGE", "PATCH", "DELETE", "PUT", "OPTIONS"]) {
      for (const target of ["/", "/admin", `/u/${fx.unsubscribe}`, "/manage", "/api/v1/check"]) {
        await expectNo5xx("edge method", method, target);
      }
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(1000);
  }, 300_000);
});
