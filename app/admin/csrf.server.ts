import crypto from "node:crypto";
import { getEnv } from "~/env.server";
import { getSecrets } from "~/secrets.server";
import type { AdminSession } from "~/admin/session.server";
import { TEXT_NO_STORE } from "~/http/headers";

/**
 * CSRF protection for every admin form, in two independent layers:
 *  1. a per-session token (HMAC of the session's id hash with SESSION_SECRET), sent in a hidden
 *     `csrf` field by <CsrfInput /> (app/admin/ui/layout.tsx) and compared in constant time;
 *  2. the browser's own provenance headers: a POST whose `Sec-Fetch-Site` is cross-site or
 *     same-site, or whose `Origin` is not Heed's, is refused.
 * The session cookie is SameSite=Lax on top of that.
 */

export const CSRF_FIELD = "csrf";

export function csrfTokenFor(session: Pick<AdminSession, "idHash">): string {
  return crypto
    .createHmac("sha256", getSecrets().sessionSecret)
    .update(`csrf\u0000${session.idHash}`)
    .digest("base64url");
}

function forbidden(message: string): Response {
  return new Response(message, {
    status: 403,
    statusText: "Forbidden",
    headers: TEXT_NO_STORE,
  });
}

/**
 * Why the browser's own provenance headers say this write comes from another site, or null.
 * `Sec-Fetch-Site` (sent by every current browser) must be same-origin (or "none": typed by the
 * user); an `Origin` must be the request's own (by host, like Remix's check) or PUBLIC_URL's.
 */
export function provenanceProblemOf(headers: {
  secFetchSite: string | null;
  origin: string | null;
  host: string | null;
}): string | null {
  const { secFetchSite, origin, host } = headers;
  if (secFetchSite && secFetchSite !== "same-origin" && secFetchSite !== "none") {
    return `cross-site request refused (Sec-Fetch-Site: ${secFetchSite})`;
  }
  if (origin === null) return null;
  if (origin === "null") return "cross-site request refused (opaque Origin)";
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return "cross-site request refused (malformed Origin)";
  }
  if (host && originHost === host) return null;
  try {
    if (new URL(getEnv().publicUrl).origin === origin) return null;
  } catch {
    /* PUBLIC_URL is validated at start-up */
  }
  return "cross-site request refused (Origin does not match)";
}

export function provenanceProblem(request: Request): string | null {
  return provenanceProblemOf({
    secFetchSite: request.headers.get("sec-fetch-site"),
    origin: request.headers.get("origin"),
    host:
      request.headers.get("x-forwarded-host")?.split(",")[0]?.trim() || new URL(request.url).host,
  });
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** Throws a 403 Response unless the token belongs to this session and the request is same-site. */
export function verifyCsrfToken(
  request: Request,
  token: string | null | undefined,
  session: Pick<AdminSession, "idHash">,
): void {
  const problem = provenanceProblem(request);
  if (problem) throw forbidden(`Forbidden: ${problem}.`);
  if (!token || !sameToken(token, csrfTokenFor(session))) {
    throw forbidden(
      "Forbidden: the form's security token is missing or out of date. Reload the page and try again.",
    );
  }
}

/** What every admin action calls after authorizing: the form's token and the request's origin. */
export function verifyCsrf(
  request: Request,
  formData: FormData,
  session: Pick<AdminSession, "idHash">,
): void {
  const token = formData.get(CSRF_FIELD);
  verifyCsrfToken(request, typeof token === "string" ? token : null, session);
}
