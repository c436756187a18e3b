import { buildOpenApiDocument } from "~/api/openapi.server";

/**
 * A readable summary of the OpenAPI document for /api/docs: per operation, its parameters and
 * body fields with types, and its answers. Derived from the generated document, so it cannot
 * drift from the API either.
 */

type Schema = Record<string, unknown>;

export type DocField = {
  name: string;
  type: string;
  required: boolean;
  description: string | null;
};

export type DocOperation = {
  id: string;
  method: string;
  path: string;
  summary: string;
  description: string;
  scope: string | null;
  parameters: (DocField & { in: string })[];
  body: DocField[];
  responses: { status: string; description: string }[];
  example: string;
};

export function typeText(s: Schema | undefined): string {
  if (!s) return "any";
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).map(typeText).join(" | ");
  const type = Array.isArray(s.type)
    ? (s.type as string[]).join(" | ")
    : (s.type as string | undefined);
  if (type === "array") {
    const max = typeof s.maxItems === "number" ? `, max ${s.maxItems.toLocaleString("en")}` : "";
    return `array of ${typeText(s.items as Schema)}${max}`;
  }
  if (type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
    return `object of ${typeText(s.additionalProperties as Schema)}`;
  }
  if (type === "string" && typeof s.format === "string") return `string (${s.format})`;
  return type ?? "any";
}

function fields(schema: Schema | undefined, prefix = ""): DocField[] {
  if (!schema || schema.type !== "object" || !schema.properties) return [];
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const out: DocField[] = [];
  for (const [name, raw] of Object.entries(schema.properties as Record<string, Schema>)) {
    const full = `${prefix}${name}`;
    const nested = raw.type === "object" && raw.properties ? raw : undefined;
    out.push({
      name: full,
      type: nested ? "object" : typeText(raw),
      required: required.has(name),
      description: (raw.description as string | undefined) ?? null,
    });
    if (nested) out.push(...fields(nested, `${full}.`));
  }
  return out;
}

function example(
  method: string,
  path: string,
  publicUrl: string,
  secured: boolean,
  hasBody: boolean,
) {
  const lines = [`curl -X ${method} '${publicUrl}${path.replace("{externalId}", "customer-42")}'`];
  if (secured) lines.push(`  -H "Authorization: Bearer $HEED_API_KEY"`);
  if (hasBody) lines.push(`  -H 'Content-Type: application/json' -d @body.json`);
  return lines.join(" \\\n");
}

export function apiDocs(publicUrl: string): {
  title: string;
  description: string;
  operations: DocOperation[];
} {
  const doc = buildOpenApiDocument(publicUrl) as {
    info: { title: string; description: string };
    paths: Record<string, Record<string, Schema>>;
  };
  const operations: DocOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)
        ?.content?.["application/json"]?.schema;
      const secured = Array.isArray(op.security) && op.security.length > 0;
      operations.push({
        id: op.operationId as string,
        method: method.toUpperCase(),
        path,
        summary: op.summary as string,
        description: (op.description as string).split("\n\nNeeds an API key")[0]!,
        scope: (op["x-scope"] as string | undefined) ?? null,
        parameters: ((op.parameters as Schema[]) ?? []).map((p) => ({
          name: p.name as string,
          in: p.in as string,
          type: typeText(p.schema as Schema),
          required: Boolean(p.required),
          description: (p.description as string | undefined) ?? null,
        })),
        body: fields(body),
        responses: Object.entries(
          op.responses as Record<string, { description: string; headers?: Schema }>,
        ).map(([status, r]) => ({
          status,
          description: r.headers
            ? `${r.description} (header ${Object.keys(r.headers)
                .map((h) => `\`${h}\``)
                .join(", ")})`
            : r.description,
        })),
        example: example(method.toUpperCase(), path, publicUrl, secured, Boolean(body)),
      });
    }
  }
  return { title: doc.info.title, description: doc.info.description, operations };
}
