import type { NextFunction, Request as ExpressRequest, Response as ExpressResponse } from "express";
import type { ActionFunction, ServerBuild } from "@remix-run/node";
import { ApiError, errorResponse } from "~/api/errors.server";
import { MAX_JSON_BODY_BYTES } from "~/api/body.server";
import { EVENTS_MAX_BYTES, INBOUND_MAX_BYTES } from "~/email/webhook-http.server";
import type { Env } from "~/env.server";
import { i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { lastKnownBranding } from "~/recipient/cache.server";
import { LOGO_UPLOAD_MAX_BODY_BYTES } from "~/settings/logo.server";
import type { FaultPageData } from "~/ui/fault-page";
import { readCappedBody } from "~/http/capped-body.server";
import { badText, findBadText } from "~/http/text-check";
import { NO_STORE, TEXT_NO_STORE } from "~/http/headers";

/**
 * What the server accepts before any route reads a request (issue 11, items 6, 7 and 10), in one
 * place:
 *
 * 1. Every request body has a cap, per route (`bodyLimit`), enforced before it is read: a
 *    declared Content-Length over the cap is answered 413 by express at once (the rest is dropped
 *    unread for a few seconds so the client sees the answer, then the connection is cut); a body
 *    without one (chunked) is counted while it is read and stopped at the cap (`withInputGuard`, or the route's own reader for the
 *    API, the provider webhooks and the import upload, which stream under their own caps).
 * 2. Text that PostgreSQL cannot store or that no person typed is refused with 400 where it is
 *    parsed: a NUL character (`%00`) anywhere in the URL or in a form field, and, in JSON, a NUL
 *    or a lone UTF-16 surrogate (`\ud800`). (Form bodies and URLs are decoded as UTF-8, where a
 *    lone surrogate cannot occur: invalid bytes become U+FFFD.) A value the database still
 *    refuses answers 400 too (app/http/database-faults.server.ts).
 * 3. A method that no route answers (TRACE, PROPFIND, …; the Fetch API cannot even build a
 *    request for some) is 405 with Allow, never 500. /api has its own JSON edge (app/api/edge).
 */

const KiB = 1024;
const MiB = 1024 * KiB;

export type BodyLimit = {
  maxBytes: number;
  /**
   * "guard": read, counted and checked here before the action runs. "own": the route streams the
   * body under its own cap and answers its own 413 (the API, provider webhooks, import uploads).
   */
  reader: "guard" | "own";
};

/** The cap of a request body on this path. */
export function bodyLimit(
  pathname: string,
  contentType: string | null,
  env: Pick<Env, "IMPORT_MAX_FILE_MB">,
): BodyLimit {
  const p = pathname.replace(/\/+$/, "") || "/";
  if (p === "/api" || p.startsWith("/api/"))
    return { maxBytes: MAX_JSON_BODY_BYTES, reader: "own" };
  if (p.startsWith("/webhooks/email/inbound/"))
    return { maxBytes: INBOUND_MAX_BYTES, reader: "own" };
  if (p.startsWith("/webhooks/")) return { maxBytes: EVENTS_MAX_BYTES, reader: "own" };
  if (p === "/admin/branding" && isMultipart(contentType)) {
    // The logo upload reads its body itself under the logo's cap (app/routes/admin.branding.tsx)
    // and says on the page that the file is too large; only far larger bodies stop here.
    return { maxBytes: LOGO_UPLOAD_MAX_BODY_BYTES, reader: "own" };
  }
  if (p === "/admin/imports" && isMultipart(contentType)) {
    // The upload streams to disk and stops at IMPORT_MAX_FILE_MB (app/imports/upload.server.ts).
    return { maxBytes: env.IMPORT_MAX_FILE_MB * MiB + MiB, reader: "own" };
  }
  // The login form: an email, a password of at most 1024 characters, a CSRF token, a path back.
  if (p === "/admin/login" || p === "/admin/logout") return { maxBytes: 16 * KiB, reader: "guard" };
  // Admin forms: the largest are the topics' and reasons' texts in seven languages.
  if (p === "/admin" || p.startsWith("/admin/")) return { maxBytes: 1 * MiB, reader: "guard" };
  // Recipient pages and "email me my link": a few choices and a free-text reason.
  return { maxBytes: 64 * KiB, reader: "guard" };
}

function isMultipart(contentType: string | null): boolean {
  return (contentType ?? "").toLowerCase().startsWith("multipart/form-data");
}

function isApi(pathname: string): boolean {
  return pathname === "/api" || pathname.startsWith("/api/");
}

/** Methods that routes answer; anything else is 405 (outside /api, whose edge answers JSON). */
const ROUTED_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** A NUL in the URL, raw or percent-encoded (no Heed URL ever carries one). */
const URL_NUL = /%00|\0/i;

function sendPlain(
  res: ExpressResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.status(status);
  res.set({ ...TEXT_NO_STORE, ...headers });
  res.end(text);
}

function isAdminPath(pathname: string): boolean {
  return pathname === "/admin" || pathname.startsWith("/admin/");
}

/**
 * Admin pages whose uploads can exceed the edge's cap: they read `?refused=too_large` and say on
 * the page that the file was too large.
 */
export const UPLOAD_PAGES: readonly string[] = ["/admin/branding", "/admin/imports"];

/**
 * A body over the cap of an admin form (issue 15, item 9): a readable answer instead of a bare
 * 413, and never one that carries the form's fields or the URL it was posted to (which may hold
 * a token). An upload page is shown again with its "too large" message (303 to
 * `<page>?refused=too_large`; for Remix's fetch with JavaScript on, the same redirect in Remix's
 * own header); other admin pages get a short page (413) with a way back.
 */
function sendAdminTooLarge(req: ExpressRequest, res: ExpressResponse, maxBytes: number): void {
  const page = req.path.replace(/\/+$/, "");
  const remixData = typeof req.query._data === "string";
  if (UPLOAD_PAGES.includes(page)) {
    const location = `${page}?refused=too_large`;
    res.set(NO_STORE);
    if (remixData) {
      res.status(204).set({ "X-Remix-Redirect": location, "X-Remix-Status": "303" });
      res.end();
    } else {
      res.redirect(303, location);
    }
    return;
  }
  const text = `The form is too large: at most ${Math.floor(maxBytes / 1024)} KB are accepted here. Nothing was saved.`;
  if (remixData) {
    // Remix shows a caught response in the route's error boundary (with the text).
    res.status(413).set({ ...TEXT_NO_STORE, "X-Remix-Catch": "yes" });
    res.end(text);
    return;
  }
  res.status(413).set({ "Content-Type": "text/html; charset=utf-8", ...NO_STORE });
  res.end(
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>Too large · Heed admin</title></head>` +
      `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#0f172a">` +
      `<main><h1>Too large</h1><p>${text}</p>` +
      `<p><a href="${page.replace(/[^A-Za-z0-9/_.-]/g, "")}" style="color:#1e40af">Back to the form</a></p></main>` +
      `</body></html>`,
  );
}

function sendApi(res: ExpressResponse, answer: Response): void {
  res.status(answer.status);
  answer.headers.forEach((value, name) => res.setHeader(name, value));
  void answer.text().then((body) => res.end(body));
}

/**
 * Express middleware, before every route: refuses a NUL in the URL (400), an unknown method
 * outside /api (405), and a declared body over the path's cap (413, connection closed).
 */
export function inputEdge(env: Pick<Env, "IMPORT_MAX_FILE_MB">) {
  return (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void => {
    const api = isApi(req.path);
    const method = req.method.toUpperCase();
    if (!api && !ROUTED_METHODS.has(method)) {
      sendPlain(res, 405, "Method not allowed.\n", { Allow: "GET, HEAD, POST" });
      return;
    }
    if (URL_NUL.test(req.originalUrl)) {
      if (api) {
        sendApi(
          res,
          errorResponse(
            new ApiError(
              400,
              "invalid_request",
              "Invalid request: the URL contains a NUL character",
              {
                issues: [
                  { path: "url", message: "contains a NUL character", code: "invalid_string" },
                ],
              },
            ),
          ),
        );
      } else {
        sendPlain(res, 400, "Bad request: the address contains a NUL character.\n");
      }
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined) {
      const limit = bodyLimit(req.path, req.headers["content-type"] ?? null, env);
      if (Number(declared) > limit.maxBytes) {
        lingerThenClose(req, res);
        if (api) {
          sendApi(
            res,
            errorResponse(
              new ApiError(
                413,
                "payload_too_large",
                `The request body is larger than ${limit.maxBytes} bytes`,
                { maxBytes: limit.maxBytes },
              ),
            ),
          );
        } else if (isAdminPath(req.path)) {
          sendAdminTooLarge(req, res, limit.maxBytes);
        } else {
          sendPlain(
            res,
            413,
            `Payload too large: at most ${limit.maxBytes} bytes are accepted here.\n`,
          );
        }
        return;
      }
    }
    next();
  };
}

export class RefusedInput extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "RefusedInput";
  }
}

/** Reads a body, counting, and stops at the cap (413), draining the rest (discardRest). */
export function readCapped(request: Request, maxBytes: number): Promise<Buffer<ArrayBuffer>> {
  return readCappedBody(
    request,
    maxBytes,
    () => tooLarge(maxBytes),
    (reader) => {
      void discardRest(reader);
      return Promise.resolve();
    },
  );
}

/** How long the rest of a refused body is read and dropped so the client sees the answer. */
export const LINGER_MS = 5_000;

/**
 * Reads and drops the rest of a refused body (nothing is kept) for at most LINGER_MS, then
 * cancels it. Closing the connection at once would make the client's TCP stack discard the 413
 * it has not read yet (a reset), and a client still sending would never learn why.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  const deadline = Date.now() + LINGER_MS;
  try {
    while (Date.now() < deadline) {
      const { done } = await reader.read();
      if (done) return;
    }
    await reader.cancel();
  } catch {
    /* the client went away */
  }
}

/**
 * After a refusal sent before the body was read: Node reads and drops the unread body so that
 * the connection can be reused (and the client reads the answer); a client that keeps sending
 * is cut off after LINGER_MS.
 */
function lingerThenClose(req: ExpressRequest, res: ExpressResponse): void {
  res.once("finish", () => {
    if (req.complete) return;
    const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
    timer.unref();
    req.once("end", () => clearTimeout(timer));
    req.once("close", () => clearTimeout(timer));
  });
}

function tooLarge(maxBytes: number): RefusedInput {
  return new RefusedInput(413, `The request body is larger than ${maxBytes} bytes.`);
}

/** Checks every text value of a form or JSON body (not files); throws RefusedInput (400). */
export async function checkBodyText(
  bytes: Uint8Array<ArrayBuffer>,
  contentType: string | null,
): Promise<void> {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const refuse = (field: string, why: string) => {
    throw new RefusedInput(400, `The field "${field.slice(0, 100)}" ${why}.`, field);
  };
  if (type === "application/x-www-form-urlencoded") {
    const params = new URLSearchParams(Buffer.from(bytes).toString("utf8"));
    for (const [name, value] of params) {
      const why = badText(name) ?? badText(value);
      if (why) refuse(name, why);
    }
  } else if (type === "multipart/form-data") {
    let form: FormData;
    try {
      form = await new Response(bytes, { headers: { "Content-Type": contentType! } }).formData();
    } catch {
      return; // not a readable form: the route answers that itself
    }
    for (const [name, value] of form) {
      const why = badText(name) ?? (typeof value === "string" ? badText(value) : null);
      if (why) refuse(name, why);
    }
  } else if (type === "application/json" || type.endsWith("+json")) {
    checkJsonText(Buffer.from(bytes).toString("utf8"));
  } else if (type.startsWith("text/")) {
    const why = badText(Buffer.from(bytes).toString("utf8"));
    if (why) refuse("body", why);
  }
}

/** Refuses a NUL or a lone surrogate in any string of a JSON text (invalid JSON: the route's). */
export function checkJsonText(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return;
  }
  const found = findBadText(parsed);
  if (found) throw new RefusedInput(400, `${found.path || "body"} ${found.why}.`, found.path);
}

/** The answer to refused input, in the shape of the route (page, resource, API). */
export function refusedInputResponse(
  refusal: RefusedInput,
  request: Request,
  kind: "page" | "resource",
): Response {
  const url = new URL(request.url);
  if (isApi(url.pathname)) {
    return errorResponse(
      refusal.status === 413
        ? new ApiError(413, "payload_too_large", refusal.message)
        : new ApiError(400, "invalid_request", `Invalid request: ${refusal.message}`, {
            issues: [
              { path: refusal.field ?? "", message: refusal.message, code: "invalid_string" },
            ],
          }),
    );
  }
  if (kind === "page") {
    const admin = url.pathname === "/admin" || url.pathname.startsWith("/admin/");
    const data: FaultPageData = {
      heedFault: "invalid_input",
      audience: admin ? "admin" : "public",
      i18n: admin ? null : i18nPayload(negotiateLocale(request)),
      branding: admin ? null : lastKnownBranding(),
    };
    return new Response(JSON.stringify(data), {
      status: refusal.status,
      headers: { "Content-Type": "application/json; charset=utf-8", ...NO_STORE },
    });
  }
  return new Response(
    `${refusal.status === 413 ? "Payload too large" : "Bad request"}: ${refusal.message}\n`,
    {
      status: refusal.status,
      headers: TEXT_NO_STORE,
    },
  );
}

/**
 * Every action whose body the guard reads (see bodyLimit) gets a request whose body was read
 * under its cap and checked: the action sees the same bytes, already in memory.
 */
function guardAction(
  action: ActionFunction,
  kind: "page" | "resource",
  env: Pick<Env, "IMPORT_MAX_FILE_MB">,
): ActionFunction {
  return async (args) => {
    const { request } = args;
    if (request.method === "GET" || request.method === "HEAD" || !request.body) {
      return action(args);
    }
    const contentType = request.headers.get("content-type");
    const limit = bodyLimit(new URL(request.url).pathname, contentType, env);
    if (limit.reader === "own") return action(args);
    let bytes: Buffer<ArrayBuffer>;
    try {
      bytes = await readCapped(request, limit.maxBytes);
      await checkBodyText(bytes, contentType);
    } catch (e) {
      if (e instanceof RefusedInput) throw refusedInputResponse(e, request, kind);
      throw e;
    }
    const checked = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: bytes,
      signal: request.signal,
    });
    return action({ ...args, request: checked });
  };
}

/** The server build with every action's body capped and checked (see the module comment). */
export function withInputGuard(
  build: ServerBuild,
  env: Pick<Env, "IMPORT_MAX_FILE_MB">,
): ServerBuild {
  const routes: ServerBuild["routes"] = {};
  for (const [id, route] of Object.entries(build.routes)) {
    const mod = route.module;
    const kind = typeof mod.default === "function" ? "page" : "resource";
    routes[id] = {
      ...route,
      module: { ...mod, ...(mod.action ? { action: guardAction(mod.action, kind, env) } : {}) },
    };
  }
  return { ...build, routes };
}
