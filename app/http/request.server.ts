import type { AppLoadContext } from "@remix-run/node";

/** Who is asking, for the ledger and the audit log: the client IP (per TRUST_PROXY) and user agent. */
export function clientInfo(request: Request, context: AppLoadContext): { ip: string | null; userAgent: string | null } {
  const ua = request.headers.get("user-agent");
  return { ip: context.clientIp ?? null, userAgent: ua ? ua.slice(0, 512) : null };
}

/** Headers every page that carries a token sends (SPEC §3). */
export const TOKEN_PAGE_HEADERS = {
  "Cache-Control": "no-store",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex, nofollow",
} as const;
