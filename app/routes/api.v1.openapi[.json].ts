import { buildOpenApiDocument } from "~/api/openapi.server";
import { openapi } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { getEnv } from "~/env.server";

let cached: { url: string; body: string } | undefined;

/** GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the API's zod schemas. */
export const { loader, action } = apiRoute(
  handler(openapi, async () => {
    const url = getEnv().publicUrl;
    if (cached?.url !== url) cached = { url, body: JSON.stringify(buildOpenApiDocument(url)) };
    return new Response(cached.body, {
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "public, max-age=300",
      },
    });
  }),
);
