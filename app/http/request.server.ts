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
