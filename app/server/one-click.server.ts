import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { getDb } from "~/db/db.server";
import { databaseFault } from "~/db/faults.server";
import { oneClickBody, oneClickUnsubscribe } from "~/recipient/one-click.server";
import { NO_STORE } from "~/http/headers";

/**
 * RFC 8058 one-click off the page path (issue 14.1): a `List-Unsubscribe=One-Click` POST to
 * /u/{token} is answered here, before express and Remix (no middleware, no route matching, no
 * loaders, no render), with a tiny document; the change goes through the one door in one statement
 * (app/recipient/one-click.server.ts). Every other POST to /u/{token} (the page's own form) goes
 * on to Remix with its body as read here (see `replayedBody`).
 *
 * Only small form bodies with a Content-Length are looked at (a one-click body is 26 bytes;
 * mailbox providers send it urlencoded or multipart); anything else goes to Remix untouched.
 * Answers: 200 (changed or not: idempotent), 400/410 for a refused token (nothing written),
 * 503 with Retry-After when the database is unavailable (nothing decided: the provider retries),
 * 400 for a value the database refused. No redirect, no cookie; the headers a token page needs.
 */

/** Bodies up to this size are read here; a one-click body is 26 bytes (a multipart one ~150). */
const MAX_BODY = 4096;
const PATH = /^\/u\/([A-Za-z0-9_.-]{1,2048})\/?$/;

const HEADERS = {
  "Content-Type": "text/html; charset=utf-8",
  ...NO_STORE,
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex, nofollow",
  "X-Content-Type-Options": "nosniff",
  // The document loads nothing and runs nothing.
  "Content-Security-Policy":
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
} as const;

const replayBodies = new WeakMap<ServerResponse, Buffer>();

/** The body read by the fast path for a POST it left to Remix (see createHttpApp). */
export function replayedBody(res: ServerResponse): Buffer | undefined {
  return replayBodies.get(res);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= limit ? Buffer.concat(chunks, size) : null));
    req.on("error", () => resolve(null));
  });
}

async function isOneClickBody(body: Buffer, contentType: string): Promise<boolean> {
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    return new URLSearchParams(body.toString("utf8")).get("List-Unsubscribe") === "One-Click";
  }
  try {
    const form = await new Response(new Uint8Array(body), {
      headers: { "Content-Type": contentType },
    }).formData();
    return form.get("List-Unsubscribe") === "One-Click";
  } catch {
    return false;
  }
}

function send(res: ServerResponse, status: number, body: string, extra: object = {}) {
  res.writeHead(status, { ...HEADERS, ...extra, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * A request handler in the node:http shape (also usable as express middleware): answers the
 * one-click POSTs and calls `next` for every other request, before reading anything of it but
 * the method and URL, or after reading a small form body that is not a one-click (then
 * `replayedBody(res)` holds it). `clientIp` gives the address recorded as evidence (the server
 * passes express's own "trust proxy" rule, so it is what `req.ip` would be).
 */
export function oneClickFastPath(
  logger: Logger,
  clientIp: (req: IncomingMessage) => string | null = (req) => req.socket.remoteAddress ?? null,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    if (req.method !== "POST") return next();
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const m = PATH.exec(query === -1 ? url : url.slice(0, query));
    if (!m) return next();
    const contentType = (req.headers["content-type"] ?? "").toLowerCase();
    const form =
      contentType.startsWith("application/x-www-form-urlencoded") ||
      contentType.startsWith("multipart/form-data");
    const length = Number(req.headers["content-length"]);
    if (!form || !Number.isSafeInteger(length) || length > MAX_BODY) return next();
    void (async () => {
      const body = await readBody(req, MAX_BODY);
      if (body === null) return send(res, 400, "");
      if (!(await isOneClickBody(body, contentType))) {
        replayBodies.set(res, body);
        return next();
      }
      const started = Date.now();
      try {
        const ua = req.headers["user-agent"];
        const outcome = await oneClickUnsubscribe(getDb(), m[1]!, {
          ip: clientIp(req),
          userAgent: ua ? ua.slice(0, 512) : null,
          acceptLanguage: req.headers["accept-language"] ?? null,
        });
        send(res, outcome.status, oneClickBody(outcome));
        const line = { path: "/u/:token", oneClick: true, status: outcome.status };
        const ms = Date.now() - started;
        if (outcome.status === 200) logger.debug({ ...line, ms }, "one-click");
        else logger.warn({ ...line, ms }, "one-click refused");
      } catch (error) {
        const fault = databaseFault(error);
        if (fault?.kind === "unavailable") {
          logger.warn(
            { path: "/u/:token", oneClick: true, status: 503 },
            "one-click: database unavailable",
          );
          return send(res, 503, "", { "Retry-After": String(fault.retryAfterSeconds) });
        }
        if (fault?.kind === "invalid_input") return send(res, 400, "");
        logger.error({ err: error, path: "/u/:token", oneClick: true }, "one-click failed");
        if (!res.headersSent) send(res, 500, "");
      }
    })();
  };
}
