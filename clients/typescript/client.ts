/**
 * A thin, typed client for the Heed sender API: openapi-fetch over the types that
 * openapi-typescript generates from /api/v1/openapi.json (./schema.d.ts, kept current by
 * `npm run client:generate`). Copy this folder into your project and add `openapi-fetch`.
 *
 *   const heed = createHeedClient({ baseUrl: "https://prefs.example.com", apiKey });
 *   const { data, error } = await heed.POST("/api/v1/check", { body: { ... } });
 *
 * Every call returns `{ data }` on success or `{ error }` with the API's error shape
 * (`{ error: { code, message, details } }`) and the `response` itself (status, Retry-After …).
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type { components, operations, paths } from "./schema";

/** The error body every failed request has. */
export type HeedError = components["schemas"]["Error"];

export type HeedClientOptions = {
  /** Heed's PUBLIC_URL, e.g. https://prefs.example.com */
  baseUrl: string;
  /** An API key (`heed_…`) from Admin → API keys or `npm run apikey:create`. */
  apiKey: string;
  /** Another fetch (tests, proxies, retries). */
  fetch?: typeof globalThis.fetch;
};

export function createHeedClient(options: HeedClientOptions) {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.fetch,
  });
  client.use({
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${options.apiKey}`);
      return request;
    },
  });
  return client;
}

export type HeedClient = ReturnType<typeof createHeedClient>;
