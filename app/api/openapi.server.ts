import { z } from "zod";
import { SCOPE_DESCRIPTIONS, API_SCOPES } from "~/api/keys.server";
import { OPERATIONS, type Operation } from "~/api/operations";
import { ErrorBody } from "~/api/schemas";

/**
 * The OpenAPI 3.1 document, generated from the operations and their zod schemas (z.toJSONSchema,
 * JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  delete out.$schema;
  return out;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid request: bad JSON, or fields that fail validation (see `details.issues`)",
  401: "Missing, invalid or revoked API key",
  403: "The API key lacks the scope this operation needs",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflicts with the current state",
  413: "The request body is too large",
  415: "The body is not JSON",
  422: "Well-formed but refers to something unknown (topic, address on the contact, ...)",
  429: "Rate limited: wait for `Retry-After` seconds",
};

function parameters(op: Operation): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, obj] of [
    ["path", op.params],
    ["query", op.query],
  ] as const) {
    if (!obj) continue;
    for (const [name, field] of Object.entries(obj.shape)) {
      const schema = jsonSchema(field as z.ZodType, "input");
      const description = schema.description;
      delete schema.description;
      out.push({
        name,
        in: where,
        required: where === "path" || !(field as z.ZodType).safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema,
      });
    }
  }
  return out;
}

function operationObject(op: Operation): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const contentType = r.contentType ?? "application/json";
    responses[status] = {
      description: r.description,
      content: { [contentType]: { schema: r.schema ? jsonSchema(r.schema, "output") : {} } },
    };
  }
  for (const status of op.errors) {
    responses[String(status)] = {
      description: STATUS_TEXT[status] ?? "Error",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  const scopeNote = op.scope ? `\n\nNeeds an API key with the \`${op.scope}\` scope.` : "";
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: `${op.description ?? op.summary}${scopeNote}`,
    tags: [op.tag],
    ...(op.scope ? { "x-scope": op.scope } : {}),
    security: op.scope ? [{ apiKey: [] }] : [],
    parameters: parameters(op),
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(op.body, "input") } },
          },
        }
      : {}),
    responses,
  };
}

export function buildOpenApiDocument(publicUrl: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) {
    (paths[op.path] ??= {})[op.method.toLowerCase()] = operationObject(op);
  }
  const scopes = API_SCOPES.map((s) => `\`${s}\`: ${SCOPE_DESCRIPTIONS[s]}`).join("; ");
  return {
    openapi: "3.1.0",
    info: {
      title: "Heed sender API",
      version: "1.0.0",
      description:
        "The API that sending systems ask before they send, and use to create links, suppress addresses and sync consent events. " +
        "Every request needs `Authorization: Bearer <API key>`; keys are created by admins (admin area or `npm run apikey:create`) with scopes: " +
        `${scopes}. Errors are \`{"error": {"code", "message", "details"}}\`.`,
    },
    servers: [{ url: publicUrl }],
    tags: [...new Set(OPERATIONS.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "An API key `heed_<prefix>_<secret>`, shown once when created.",
        },
      },
      schemas: { Error: jsonSchema(ErrorBody, "output") },
    },
  };
}
