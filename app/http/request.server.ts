import crypto from "node:crypto";
import type { AppLoadContext } from "@remix-run/node";
import { NO_STORE } from "~/http/headers";

/** Who is asking, for the ledger and the audit log: the client IP (per TRUST_PROXY) and user agent. */
export function clientInfo(
  request: Request,
  context: AppLoadContext,
): { ip: string | null; userAgent: string | null } {
  const ua = request.headers.get("user-agent");
  return { ip: context.clientIp ?? null, userAgent: ua ? ua.slice(0, 512) : null };
}

/**
 * Headers a page that carries a token adds itself (docs/links.md). The server already sends
 * `Referrer-Policy: no-referrer` and `X-Robots-Tag: noindex` on every response
 * (app/server/http.server.ts), and @remix-run/express appends route headers, so repeating them
 * here would send them twice. The e2e tests check all three on every token page.
 */
export const TOKEN_PAGE_HEADERS = NO_STORE;

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The request's id (X-Request-Id on the answer, `req.id` in the log): the client's own
 * X-Request-Id when it sent one of up to 64 letters, digits, dots, dashes and underscores (a
 * proxy's id, so both logs can be matched), else a new UUID. Every path uses it: the express app
 * and the token pages' fast path (app/server/token-pages.server.ts).
 */
export function requestIdFor(incoming: string | undefined | null): string {
  return incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
}

/**
 * A fresh CSP nonce for a page (16 random bytes, base64): cut from a pool of CSPRNG bytes filled
 * 4 KiB at a time, each slice used once, instead of one getrandom call per page. Every page's
 * nonce comes from here (the token pages' fast path and the express path).
 */
let noncePool = Buffer.alloc(0);
let nonceAt = 0;
export function cspNonce(): string {
  if (nonceAt + 16 > noncePool.length) {
    noncePool = crypto.randomBytes(4096);
    nonceAt = 0;
  }
  const nonce = noncePool.toString("base64", nonceAt, nonceAt + 16);
  nonceAt += 16;
  return nonce;
}
