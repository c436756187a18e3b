import type {
  ActionFunction,
  HeadersArgs,
  HeadersFunction,
  LoaderFunction,
  ServerBuild,
} from "@remix-run/node";
import { apiErrorOfDatabaseFault, errorResponse } from "~/api/errors.server";
import { getDatabase } from "~/db/db.server";
import {
  DATABASE_RETRY_AFTER_SECONDS,
  databaseFault,
  type DatabaseFault,
} from "~/db/faults.server";
import { i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { lastKnownBranding } from "~/recipient/cache.server";
import type { FaultPageData } from "~/ui/fault-page";
import { NO_STORE, TEXT_NO_STORE } from "~/http/headers";

/**
 * Requests that meet a database fault, answered in one place for every route.
 *
 * Remix 2 offers no middleware, `handleError` (entry.server) can only log (the response is
 * already decided), and an express error handler never sees what Remix caught. So the server
 * build is wrapped once at start-up (createHttpApp): every loader and action runs inside a guard
 * that turns a database fault (app/db/faults.server.ts) into a thrown Response, which Remix
 * handles the same way for document requests (the error boundary renders, with the Response's
 * status), data requests (`?_data`, the boundary renders in the browser) and resource routes
 * (the Response is sent as it is):
 *
 * - unavailable → 503 with Retry-After: a localized, branded page for recipient pages, the
 *   admin's error page, the API's JSON error (`database_unavailable`), plain text elsewhere
 *   (the Twilio webhook: Twilio retries).
 * - invalid input (PostgreSQL class 22, e.g. a NUL byte) → 400 in the same shapes.
 *
 * Nothing in a request that met a fault is reported as done: the route did not return.
 */

function isApi(url: URL): boolean {
  return url.pathname === "/api" || url.pathname.startsWith("/api/");
}

function isAdmin(url: URL): boolean {
  return url.pathname === "/admin" || url.pathname.startsWith("/admin/");
}

function retryAfter(fault: DatabaseFault): Record<string, string> {
  return fault.kind === "unavailable" ? { "Retry-After": String(fault.retryAfterSeconds) } : {};
}

/**
 * The answer to a request that met a database fault, in the shape its route speaks: the API's
 * JSON error, a page's data for the error boundary, or plain text. Usable outside Remix too.
 */
export function databaseFaultResponse(
  fault: DatabaseFault,
  request: Request,
  kind: "page" | "resource" = "resource",
): Response {
  const url = new URL(request.url);
  const status = fault.kind === "unavailable" ? 503 : 400;
  if (isApi(url)) return errorResponse(apiErrorOfDatabaseFault(fault));
  if (kind === "page") {
    const admin = isAdmin(url);
    const locale = negotiateLocale(request);
    const data: FaultPageData = {
      heedFault: fault.kind === "unavailable" ? "database_unavailable" : "invalid_input",
      audience: admin ? "admin" : "public",
      i18n: admin ? null : i18nPayload(locale),
      branding: admin ? null : lastKnownBranding(),
    };
    return new Response(JSON.stringify(data), {
      status,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        ...NO_STORE,
        ...retryAfter(fault),
      },
    });
  }
  return new Response(
    fault.kind === "unavailable"
      ? "Service temporarily unavailable: the database cannot be reached. Retry later.\n"
      : "Bad request: a value was refused.\n",
    {
      status,
      headers: { ...TEXT_NO_STORE, ...retryAfter(fault) },
    },
  );
}

/** A 503 without Retry-After (e.g. /healthz) gets one: clients should know when to come back. */
function withRetryAfter(response: Response): Response {
  if (response.status !== 503 || response.headers.has("Retry-After")) return response;
  const headers = new Headers(response.headers);
  headers.set("Retry-After", String(DATABASE_RETRY_AFTER_SECONDS));
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

type Handler = LoaderFunction | ActionFunction;

/** Tells the process's database health (logged once per outage by the server). */
function reportUnavailable(error: unknown) {
  try {
    getDatabase().health.failed(error);
  } catch {
    /* no database handle (yet): nothing to tell */
  }
}

function guard<F extends Handler>(fn: F, kind: "page" | "resource"): F {
  const guarded = async (args: Parameters<F>[0]) => {
    try {
      const result = await fn(args);
      return result instanceof Response ? withRetryAfter(result) : result;
    } catch (error) {
      if (error instanceof Response) throw withRetryAfter(error);
      const fault = databaseFault(error);
      if (!fault) throw error;
      if (fault.kind === "unavailable") reportUnavailable(error);
      throw databaseFaultResponse(fault, args.request, kind);
    }
  };
  return guarded as F;
}

/**
 * Route headers: a route's own `headers` ignores the headers of a Response thrown by its loader,
 * so Retry-After (and no-store) of a fault response would be lost on document requests.
 */
function headersWithFault(own: HeadersFunction | HeadersInit | undefined): HeadersFunction {
  return (args: HeadersArgs) => {
    const base =
      own === undefined ? args.parentHeaders : typeof own === "function" ? own(args) : own;
    const headers = new Headers(base);
    const fault = args.errorHeaders;
    const after = fault?.get("Retry-After");
    if (after) headers.set("Retry-After", after);
    if (fault?.get("Cache-Control")) headers.set("Cache-Control", fault.get("Cache-Control")!);
    return headers;
  };
}

/** The server build with every loader and action guarded (see the module comment). */
export function withDatabaseFaultHandling(build: ServerBuild): ServerBuild {
  const routes: ServerBuild["routes"] = {};
  for (const [id, route] of Object.entries(build.routes)) {
    const mod = route.module;
    const kind = typeof mod.default === "function" ? "page" : "resource";
    routes[id] = {
      ...route,
      module: {
        ...mod,
        ...(mod.loader ? { loader: guard(mod.loader, kind) } : {}),
        ...(mod.action ? { action: guard(mod.action, kind) } : {}),
        ...(kind === "page" ? { headers: headersWithFault(mod.headers) } : {}),
      },
    };
  }
  return { ...build, routes };
}
