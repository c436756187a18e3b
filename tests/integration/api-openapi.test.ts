import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "~/api/openapi.server";
import { setDatabase } from "~/db/db.server";
import * as openapiRoute from "~/routes/api.v1.openapi[.json]";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call } from "./api.helpers";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  setDatabase(t);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

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
      expect.arrayContaining(["200", "400", "401", "403", "405", "413", "422", "429", "default"]),
    );
    const responses = checkOp.responses as Record<string, { headers?: Record<string, unknown> }>;
    expect(Object.keys(responses["429"]!.headers!)).toEqual(["Retry-After"]);
    expect(Object.keys(responses["405"]!.headers!)).toEqual(["Allow"]);
    // The one 422 of the suppressions call says what it means.
    const suppress = doc.paths["/api/v1/suppressions"]!.post!.responses as Record<
      string,
      { description: string }
    >;
    expect(suppress["422"]!.description).toContain("unknown_reason");
  });
});
