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
  405: "This path does not answer this method: `Allow` lists the methods it does (also `details.allowed`)",
  409: "Conflicts with the current state",
  413: "The request body is too large",
  415: "The body is not JSON",
  422: "Well-formed but refers to something unknown (topic, address on the contact, ...)",
  429: "Rate limited: wait for `Retry-After` seconds",
};

/** Operation-specific words for an error status, added to the generic ones above. */
const STATUS_NOTE: Record<string, Partial<Record<number, string>>> = {
  suppress: {
    422: "`unknown_reason`: `reason` is not one of the unsubscribe reason codes configured in the admin area",
  },
  subscribe: {
    429: "`rate_limited` (this API key's limit) or `confirmation_rate_limited` (at most 5 confirmations per address a day)",
  },
};

const HEADERS: Partial<Record<number, Record<string, JsonSchema>>> = {
  401: {
    "WWW-Authenticate": {
      description: 'The Bearer challenge, e.g. `Bearer realm="heed"`.',
      schema: { type: "string" },
    },
  },
  405: {
    Allow: {
      description: "The methods this path answers, e.g. `POST` or `GET, HEAD`.",
      schema: { type: "string" },
    },
  },
  429: {
    "Retry-After": {
      description: "Seconds to wait before trying again.",
      required: true,
      schema: { type: "integer", minimum: 1 },
    },
  },
};

/** Every operation can answer these, whatever its own errors are. */
const COMMON_ERRORS = [405];

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
  const error = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
  for (const status of [...new Set([...op.errors, ...COMMON_ERRORS])].sort()) {
    const note = STATUS_NOTE[op.operationId]?.[status];
    responses[String(status)] = {
      description: `${STATUS_TEXT[status] ?? "Error"}${note ? `. ${note}` : ""}`,
      ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
      content: error,
    };
  }
  // Anything else (a server fault: 500, 503 with Retry-After) has the same JSON shape.
  responses.default = {
    description: "An unexpected error (5xx), in the same JSON shape",
    content: error,
  };
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
        `${scopes}. Every error, on every path under /api/ (an unknown path answers 404, a method a path does not answer 405 with \`Allow\`), is \`{"error": {"code", "message", "details"}}\`.`,
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
