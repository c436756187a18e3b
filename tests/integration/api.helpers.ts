import type { ActionFunctionArgs, AppLoadContext, LoaderFunctionArgs } from "@remix-run/node";
import { createApiKey, type ApiScope } from "~/api/keys.server";
import type { Db } from "~/db/db.server";

/** Calls API route modules directly with a real Request, the way Remix does. */

export type RouteModule = {
  loader: (args: LoaderFunctionArgs) => Promise<Response>;
  action: (args: ActionFunctionArgs) => Promise<Response>;
};

export const CONTEXT = {
  nonce: "",
  requestId: "test",
  clientIp: "203.0.113.7",
} as AppLoadContext;

export type CallOptions = {
  method?: string;
  path?: string;
  params?: Record<string, string>;
  key?: string | null;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
};

export async function call(mod: RouteModule, o: CallOptions = {}): Promise<Response> {
  const method = (o.method ?? "GET").toUpperCase();
  const headers = new Headers(o.headers);
  if (o.key) headers.set("Authorization", `Bearer ${o.key}`);
  let body: BodyInit | undefined;
  if (o.rawBody !== undefined) body = o.rawBody as BodyInit;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    if (!headers.has("content-type")) headers.set("Content-Type", "application/json");
  }
  const request = new Request(`http://localhost:3000${o.path ?? "/api/v1/x"}`, {
    method,
    headers: { "User-Agent": "api-test/1", ...Object.fromEntries(headers) },
    body,
  });
  const args = { request, params: o.params ?? {}, context: CONTEXT };
  return method === "GET" || method === "HEAD" ? mod.loader(args) : mod.action(args);
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function newKey(db: Db, scopes: ApiScope[], name = `test ${scopes.join(",")}`) {
  return createApiKey(db, { name, scopes });
}
