import type { ActionFunctionArgs, AppLoadContext, LoaderFunctionArgs } from "@remix-run/node";
import type { z } from "zod";
import { authenticateRequest } from "~/api/auth.server";
import { readJsonBody } from "~/api/body.server";
import { methodNotAllowed, toErrorResponse, validationError } from "~/api/errors.server";
import type { ApiKeyPrincipal } from "~/api/keys.server";
import type { HttpMethod, Operation } from "~/api/operations";
import { getDb, type Db } from "~/db/db.server";
import { clientInfo } from "~/http/request.server";

/**
 * Runs one operation of app/api/operations.ts: method, API key + scope + rate limit, path
 * parameters, query and JSON body validated by the operation's zod schemas, then the handler.
 * Anything thrown becomes the API's error shape.
 */

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export type HandlerInput<O extends Operation> = {
  db: Db;
  request: Request;
  context: AppLoadContext;
  key: O["scope"] extends null ? null : ApiKeyPrincipal;
  params: Out<O["params"]>;
  query: Out<O["query"]>;
  body: Out<O["body"]>;
  client: { ip: string | null; userAgent: string | null };
};

export type Handler<O extends Operation> = {
  op: O;
  run: (input: HandlerInput<O>) => Promise<Response>;
};

export function handler<O extends Operation>(
  op: O,
  run: (input: HandlerInput<O>) => Promise<Response>,
): Handler<O> {
  return { op, run };
}

function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

async function runHandler(
  h: Handler<Operation>,
  args: { request: Request; params: Record<string, string | undefined>; context: AppLoadContext },
): Promise<Response> {
  const { op } = h;
  try {
    const db = getDb();
    const key = op.scope ? await authenticateRequest(db, args.request, op.scope) : null;
    let params: unknown;
    if (op.params) {
      const r = op.params.safeParse(args.params);
      if (!r.success) throw validationError(r.error, "path");
      params = r.data;
    }
    let query: unknown;
    if (op.query) {
      const r = op.query.safeParse(queryObject(new URL(args.request.url)));
      if (!r.success) throw validationError(r.error, "query");
      query = r.data;
    }
    let body: unknown;
    if (op.body) {
      const r = op.body.safeParse(await readJsonBody(args.request));
      if (!r.success) throw validationError(r.error);
      body = r.data;
    }
    return await h.run({
      db,
      request: args.request,
      context: args.context,
      key,
      params,
      query,
      body,
      client: clientInfo(args.request, args.context ?? {}),
    } as HandlerInput<Operation>);
  } catch (e) {
    return toErrorResponse(e);
  }
}

/** The loader and action of a route file serving one API path. */
export function apiRoute(...handlers: Handler<Operation>[]) {
  const byMethod = new Map(handlers.map((h) => [h.op.method, h]));
  const allowed = [...byMethod.keys()];
  return {
    loader: (args: LoaderFunctionArgs) => {
      const h = byMethod.get("GET");
      return h ? runHandler(h, args) : Promise.resolve(methodNotAllowed(allowed));
    },
    action: (args: ActionFunctionArgs) => {
      const h = byMethod.get(args.request.method.toUpperCase() as HttpMethod);
      return h && h.op.method !== "GET"
        ? runHandler(h, args)
        : Promise.resolve(methodNotAllowed(allowed));
    },
  };
}
