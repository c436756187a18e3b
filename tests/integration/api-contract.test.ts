import path from "node:path";
import { readConfig } from "@remix-run/dev/dist/config.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_JSON_BODY_BYTES } from "~/api/body.server";
import type { ApiScope } from "~/api/keys.server";
import { buildOpenApiDocument } from "~/api/openapi.server";
import { API_PAGES, allowedMethods } from "~/api/operations";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type DatabaseHandle, type Db } from "~/db/db.server";
import { DatabaseHealth } from "~/db/faults.server";
import type { Database } from "~/db/schema";
import { getEnv } from "~/env.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call, newKey, type CallOptions, type RouteModule } from "./api.helpers";

/**
 * The OpenAPI document and the router agree, proven from both sides:
 *
 * 1. Every route under /api/ that Remix serves (its own route manifest, read from app/routes the
 *    way `remix build` reads it) is a documented path, an API page, or the JSON catch-all; every
 *    documented path is a route.
 * 2. Every status that every operation documents (and its `default`) is reached by a request in
 *    the table below, or is excluded with a written reason; a status the table reaches must be
 *    documented. Each answer is checked against the document: status, content type, the headers
 *    it documents, and the body against the documented JSON Schema (Ajv, JSON Schema 2020-12).
 */

type Json = Record<string, unknown>;
type Doc = {
  paths: Record<string, Record<string, Json & { operationId: string; responses: Json }>>;
  components: { schemas: Record<string, Json> };
};
const doc = buildOpenApiDocument("http://localhost:3000") as unknown as Doc;

let t: TestDatabase;
let db: Db;
const keys = new Map<string, { key: string; id: string }>();

async function keyFor(scopes: ApiScope[], fresh = false) {
  const name = scopes.join(",");
  if (!fresh && keys.has(name)) return keys.get(name)!;
  const k = await newKey(db, scopes, `contract ${name}${fresh ? ` ${keys.size}` : ""}`);
  if (!fresh) keys.set(name, k);
  return k;
}
const ALL: ApiScope[] = ["links", "check", "contacts", "suppressions", "events"];

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await db
    .insertInto("topics")
    .values({
      key: "news",
      channels: ["email", "sms"],
      default_opt_in: true,
      names: "{}",
      descriptions: "{}",
      position: 1,
    })
    .execute();
  await db
    .insertInto("contacts")
    .values([
      { external_id: "c-email", email: "contract@example.com" },
      { external_id: "c-phone", phone: "+48601700100" },
    ])
    .execute();
  await applyConsentChange(db, {
    channel: "email",
    address: "contract@example.com",
    action: "unsubscribe",
    source: "api",
  });
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

// ---------------------------------------------------------------------------------------------
// The route manifest

type ManifestRoute = {
  id: string;
  file: string;
  path?: string;
  parentId?: string;
  index?: boolean;
};

/** `/api/v1/contacts/{externalId}` from Remix's nested route entries (`:x` → `{x}`). */
function fullPath(routes: Record<string, ManifestRoute>, r: ManifestRoute): string {
  const parts: string[] = [];
  for (let cur: ManifestRoute | undefined = r; cur; cur = routes[cur.parentId ?? ""]) {
    if (cur.path) parts.unshift(cur.path);
  }
  return `/${parts.join("/")}`.replace(/:(\w+)/g, "{$1}");
}

async function apiRoutes() {
  const config = await readConfig(process.cwd());
  const routes = config.routes as unknown as Record<string, ManifestRoute>;
  return Object.values(routes)
    .map((r) => ({ file: r.file, path: fullPath(routes, r) }))
    .filter((r) => r.path === "/api" || r.path.startsWith("/api/"));
}

async function moduleFor(file: string): Promise<RouteModule> {
  return (await import(/* @vite-ignore */ path.resolve("app", file))) as RouteModule;
}

// ---------------------------------------------------------------------------------------------
// Requests that reach each documented status

type Case = (
  mod: RouteModule,
  p: { path: string; method: string; scope: string },
) => Promise<Response>;

const pathOf = (template: string, id = "c-email") => template.replace("{externalId}", id);

/** Requests every scoped operation answers the same way. */
const GENERIC: Record<number, Case> = {
  401: (mod, p) =>
    call(mod, { method: p.method, path: pathOf(p.path), params: { externalId: "c-email" } }),
  403: async (mod, p) => {
    const other = ALL.find((s) => s !== p.scope)!;
    return call(mod, {
      method: p.method,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      key: (await keyFor([other])).key,
      body: p.method === "GET" ? undefined : {},
    });
  },
  429: async (mod, p) => {
    // A key that has used up this minute's requests.
    const k = await keyFor([p.scope as ApiScope], true);
    const limit = getEnv().API_RATE_LIMIT_PER_MINUTE;
    await sql`insert into rate_limits (key, window_start, count)
      values (${`api:key:${k.id}`}, now(), ${limit})`.execute(db);
    return call(mod, {
      method: p.method,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      key: k.key,
      body: p.method === "GET" ? undefined : {},
    });
  },
  405: (mod, p) => {
    const allowed = allowedMethods(pathOf(p.path));
    const wrong = ["GET", "POST", "PUT", "PATCH", "DELETE"].find((m) => !allowed.includes(m))!;
    return call(mod, {
      method: wrong,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      body: wrong === "GET" || wrong === "DELETE" ? undefined : {},
    });
  },
  413: async (mod, p) =>
    call(mod, {
      method: p.method,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      key: (await keyFor(ALL)).key,
      headers: { "Content-Type": "application/json" },
      rawBody: `{"x":"${"a".repeat(MAX_JSON_BODY_BYTES)}"}`,
    }),
  415: async (mod, p) =>
    call(mod, {
      method: p.method,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      key: (await keyFor(ALL)).key,
      headers: { "Content-Type": "text/plain" },
      rawBody: "{}",
    }),
};

/** A call with a key holding every scope. */
const as =
  (o: CallOptions & { id?: string }): Case =>
  async (mod, p) =>
    call(mod, {
      method: p.method,
      path: pathOf(p.path, o.id),
      params: { externalId: o.id ?? "c-email" },
      key: (await keyFor(ALL)).key,
      ...o,
    });
const badJson = as({ rawBody: "{", headers: { "Content-Type": "application/json" } });

/** Operation → status → one or more requests that must get exactly that status. */
const CASES: Record<string, Record<string, Case[]>> = {
  putContact: {
    200: [as({ id: "c-email", body: { locale: "en" } })],
    201: [as({ id: "c-new", body: { email: "new-contact@example.com" } })],
    400: [badJson, as({ id: "c-new", body: { email: "not an address" } })],
  },
  getPreferences: {
    200: [as({})],
    400: [as({ id: "x".repeat(201) })],
    404: [as({ id: "c-nobody" })],
  },
  exportContact: {
    200: [as({})],
    400: [as({ id: "x".repeat(201) })],
    404: [as({ id: "c-nobody" })],
  },
  patchPreferences: {
    200: [as({ id: "c-phone", body: { channels: { sms: { topics: { news: false } } } } })],
    400: [badJson, as({ body: { channels: { email: { status: "maybe" } } } })],
    404: [as({ id: "c-nobody", body: { channels: {} } })],
    // Pausing a channel that is unsubscribed.
    409: [
      as({
        body: { channels: { email: { pausedUntil: new Date(Date.now() + 864e5).toISOString() } } },
      }),
    ],
    422: [
      as({ id: "c-phone", body: { channels: { sms: { topics: { nope: true } } } } }),
      as({ id: "c-phone", body: { channels: { email: { status: "unsubscribed" } } } }),
    ],
  },
  createLinks: {
    200: [as({ body: { externalId: "c-email", channel: "email", campaign: "spring" } })],
    400: [badJson, as({ body: { externalId: "c-email", channel: "fax" } })],
    404: [as({ body: { externalId: "c-nobody", channel: "email" } })],
    422: [
      as({ body: { externalId: "c-phone", channel: "email" } }),
      as({ body: { externalId: "c-email", channel: "email", topic: "nope" } }),
    ],
  },
  createLinksBatch: {
    200: [as({ body: { channel: "email", externalIds: ["c-email", "c-phone", "c-nobody"] } })],
    400: [badJson, as({ body: { channel: "email", externalIds: [] } })],
    422: [as({ body: { channel: "email", topic: "nope", externalIds: ["c-email"] } })],
  },
  check: {
    200: [
      as({
        body: {
          channel: "email",
          category: "marketing",
          recipients: ["contract@example.com", "x@example.com"],
        },
      }),
    ],
    400: [
      badJson,
      as({ body: { channel: "email", category: "ads", recipients: ["a@example.com"] } }),
    ],
    422: [
      as({
        body: {
          channel: "email",
          category: "marketing",
          topic: "nope",
          recipients: ["a@example.com"],
        },
      }),
    ],
  },
  suppress: {
    200: [as({ body: { channel: "email", addresses: ["s1@example.com", "bad address"] } })],
    400: [badJson, as({ body: { channel: "email", addresses: [] } })],
    422: [
      as({ body: { channel: "email", addresses: ["s2@example.com"], reason: "no_such_reason" } }),
    ],
  },
  exportSuppressions: {
    200: [as({})],
    400: [as({ path: "/api/v1/suppressions.csv?channel=fax" })],
  },
  upsertCampaign: {
    200: [
      async (mod, p) => {
        await as({ body: { key: "k1", name: "Spring", channel: "email", sentCount: 10 } })(mod, p);
        return as({ body: { key: "k1", name: "Spring sale", channel: "email", sentCount: 12 } })(
          mod,
          p,
        );
      },
    ],
    201: [as({ body: { key: "k2", name: "Summer", channel: "email", sentCount: 10 } })],
    400: [badJson, as({ body: { key: "k 1", name: "x", channel: "email", sentCount: 1 } })],
    // A key registered on email cannot move to SMS.
    409: [as({ body: { key: "k1", name: "Spring", channel: "sms", sentCount: 1 } })],
    422: [as({ body: { key: "k3", name: "x", channel: "email", topic: "nope", sentCount: 1 } })],
  },
  subscribe: {
    202: [as({ body: { channel: "email", address: "signup@example.com" } })],
    400: [badJson, as({ body: { channel: "email", address: "not an address" } })],
    422: [as({ body: { channel: "email", address: "signup2@example.com", topics: ["nope"] } })],
    429: [
      GENERIC[429]!,
      // The sixth confirmation to one address in a day.
      async (mod, p) => {
        let res: Response | undefined;
        for (let i = 0; i < 6; i++) {
          res = await as({ body: { channel: "sms", address: "+48601700199" } })(mod, p);
        }
        return res!;
      },
    ],
  },
  listEvents: {
    200: [as({ path: "/api/v1/events?limit=5" })],
    400: [as({ path: "/api/v1/events?after=yesterday" })],
  },
  openapi: {
    200: [(mod, p) => call(mod, { method: p.method, path: p.path })],
  },
};

/** Documented statuses no request in this file reaches, and why. */
const EXCLUDED: Record<string, Record<string, string>> = {
  openapi: {
    default:
      "the document is built in memory from the zod schemas, without the database or anything else that can fail at run time",
  },
};

/** A database whose every connection fails, as when the server went away. */
const unreachable: DatabaseHandle = {
  kind: "postgres",
  health: new DatabaseHealth(),
  close: async () => {},
  db: new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
      createDriver: () => ({
        init: async () => {},
        acquireConnection: async () => {
          throw new Error("Connection terminated unexpectedly");
        },
        beginTransaction: async () => {},
        commitTransaction: async () => {},
        rollbackTransaction: async () => {},
        releaseConnection: async () => {},
        destroy: async () => {},
      }),
    },
  }),
};

/** 5xx on every operation: the database fails under the handler. */
const DEFAULT_CASE: Case = async (mod, p) => {
  const key = (await keyFor(ALL)).key;
  setDatabase(unreachable);
  const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    return await call(mod, {
      method: p.method,
      path: pathOf(p.path),
      params: { externalId: "c-email" },
      key,
      body: p.method === "GET" ? undefined : {},
    });
  } finally {
    quiet.mockRestore();
    setDatabase(t);
  }
};

// ---------------------------------------------------------------------------------------------

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: "heed", components: doc.components });

function resolve(schema: Json): Json {
  const ref = schema.$ref as string | undefined;
  return ref ? { $ref: `heed${ref}` } : schema;
}

describe("the OpenAPI document and the router agree", () => {
  it("every route under /api/ is documented (or an API page, or the JSON catch-all), and every documented path is a route", async () => {
    const routes = await apiRoutes();
    const documented = Object.keys(doc.paths).sort();
    const pages = API_PAGES.map((p) => p.path);
    const served = routes.map((r) => r.path);
    expect(served.filter((p) => !documented.includes(p) && !pages.includes(p))).toEqual(["/api/*"]);
    expect(documented.filter((p) => !served.includes(p))).toEqual([]);
    expect(pages.filter((p) => !served.includes(p))).toEqual([]);
    // Each documented method is answered by its route module (anything but a 405) and every
    // other method gets the documented 405.
    for (const r of routes.filter((x) => documented.includes(x.path))) {
      const mod = await moduleFor(r.file);
      const methods = Object.keys(doc.paths[r.path]!).map((m) => m.toUpperCase());
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
        const res = await call(mod, {
          method,
          path: pathOf(r.path),
          params: { externalId: "c-email" },
          body: method === "GET" || method === "DELETE" ? undefined : {},
        });
        expect({ path: r.path, method, answered: res.status !== 405 }).toEqual({
          path: r.path,
          method,
          answered: methods.includes(method),
        });
      }
    }
  });

  it("the JSON catch-all answers any path no operation has, with any method, in the error shape", async () => {
    const routes = await apiRoutes();
    const mod = await moduleFor(routes.find((r) => r.path === "/api/*")!.file);
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const res = await call(mod, { method, path: "/api/v1/no-such-thing", body: undefined });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      const body = (await res.json()) as Json;
      expect(ajv.validate(resolve({ $ref: "#/components/schemas/Error" }), body)).toBe(true);
      expect(body).toMatchObject({ error: { code: "not_found" } });
    }
  });

  const operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path: p, method: method.toUpperCase(), op })),
  );

  it("every documented status has a request below that reaches it, or a written reason why not", () => {
    const missing: string[] = [];
    const undocumented: string[] = [];
    for (const { op } of operations) {
      const cases = CASES[op.operationId] ?? {};
      for (const status of Object.keys(op.responses)) {
        const covered =
          status === "default" ||
          cases[status] ||
          (GENERIC[Number(status)] && status !== "200") ||
          EXCLUDED[op.operationId]?.[status];
        if (!covered) missing.push(`${op.operationId} ${status}`);
      }
      for (const status of Object.keys(cases)) {
        if (!op.responses[status]) undocumented.push(`${op.operationId} ${status}`);
      }
    }
    expect(missing).toEqual([]);
    expect(undocumented).toEqual([]);
  });

  for (const { path: p, method, op } of operations) {
    it(`${method} ${p}: every documented answer, with its headers and schema`, async () => {
      const routes = await apiRoutes();
      const mod = await moduleFor(routes.find((r) => r.path === p)!.file);
      const scope = (op["x-scope"] as string | undefined) ?? "";
      const statuses = Object.keys(op.responses).filter((s) => !EXCLUDED[op.operationId]?.[s]);
      for (const status of statuses) {
        const cases =
          status === "default"
            ? [DEFAULT_CASE]
            : (CASES[op.operationId]?.[status] ?? [GENERIC[Number(status)]!]);
        const documented = op.responses[status] as {
          content: Record<string, { schema: Json }>;
          headers?: Record<string, { required?: boolean }>;
        };
        for (const [i, run] of cases.entries()) {
          const res = await run(mod, { path: p, method, scope });
          const label = `${op.operationId} ${status} #${i + 1}`;
          const text = await res.text();
          if (status === "default") expect(res.status, label).toBeGreaterThanOrEqual(500);
          else
            expect({ label, status: res.status, text: text.slice(0, 300) }).toMatchObject({
              label,
              status: Number(status),
            });
          const [type, media] = Object.entries(documented.content)[0]!;
          expect(res.headers.get("content-type") ?? "", label).toContain(type);
          for (const [name, h] of Object.entries(documented.headers ?? {})) {
            if (h.required !== false)
              expect(res.headers.get(name), `${label} ${name}`).toBeTruthy();
          }
          if (type === "application/json") {
            const body = JSON.parse(text) as unknown;
            const valid = ajv.validate(resolve(media.schema), body);
            expect({ label, errors: valid ? null : ajv.errors }).toEqual({ label, errors: null });
          }
        }
      }
    });
  }
});
