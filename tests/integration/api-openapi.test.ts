import fs from "node:fs";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "~/api/openapi.server";
import { setDatabase } from "~/db/db.server";
import * as openapiRoute from "~/routes/api.v1.openapi[.json]";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call, type RouteModule } from "./api.helpers";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  setDatabase(t);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

const ROUTES_DIR = path.resolve("app/routes");

/** Remix flat-route file name → URL path template: `.` separates, `[...]` escapes, `$x` → `{x}`. */
function routePath(file: string): string {
  const name = file.replace(/\.tsx?$/, "");
  const segments: string[] = [];
  let current = "";
  let escaped = false;
  for (const ch of name) {
    if (ch === "[") escaped = true;
    else if (ch === "]") escaped = false;
    else if (ch === "." && !escaped) {
      segments.push(current);
      current = "";
    } else current += ch;
  }
  segments.push(current);
  return "/" + segments.map((s) => (s.startsWith("$") ? `{${s.slice(1)}}` : s)).join("/");
}

const routeFiles = fs.readdirSync(ROUTES_DIR).filter((f) => /^api\.v1\..+\.tsx?$/.test(f));
type Doc = { paths: Record<string, Record<string, { security: unknown[] }>> };

describe("the OpenAPI document", () => {
  it("is served at /api/v1/openapi.json and is a valid OpenAPI 3.1 document", async () => {
    const res = await call(openapiRoute, { path: "/api/v1/openapi.json" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("documents exactly the routes under /api/v1, and every documented method answers (no 405)", async () => {
    expect(routeFiles.length).toBeGreaterThanOrEqual(10);
    const doc = buildOpenApiDocument("http://localhost:3000") as unknown as Doc;
    const fromFiles = routeFiles.map(routePath).sort();
    expect(Object.keys(doc.paths).sort()).toEqual(fromFiles);

    for (const file of routeFiles) {
      const mod = (await import(/* @vite-ignore */ path.join(ROUTES_DIR, file))) as RouteModule;
      const p = routePath(file);
      const documented = Object.keys(doc.paths[p]!).map((m) => m.toUpperCase());
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
        const res = await call(mod, {
          method,
          path: p.replace(/\{(\w+)\}/g, "x"),
          params: { externalId: "x" },
          body: method === "GET" || method === "DELETE" ? undefined : {},
        });
        if (!documented.includes(method)) {
          expect({ file, method, status: res.status }).toEqual({ file, method, status: 405 });
          continue;
        }
        const op = doc.paths[p]![method.toLowerCase()]!;
        // Scoped operations refuse an anonymous call with 401; public ones answer.
        const expected = op.security.length > 0 ? 401 : 200;
        expect({ file, method, status: res.status }).toEqual({ file, method, status: expected });
      }
    }
  });

  it("describes request bodies and answers with the zod schemas (e.g. check)", () => {
    const doc = buildOpenApiDocument("http://localhost:3000") as unknown as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const checkOp = doc.paths["/api/v1/check"]!.post!;
    const body = (
      checkOp.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }
    ).content["application/json"]!.schema;
    expect(body).toMatchObject({
      type: "object",
      required: expect.arrayContaining(["channel", "category", "recipients"]),
      properties: { recipients: { type: "array", maxItems: 10_000 } },
    });
    expect(Object.keys(checkOp.responses as object)).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "413", "422", "429"]),
    );
  });
});
