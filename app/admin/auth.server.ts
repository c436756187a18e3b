import { redirect, type AppLoadContext } from "@remix-run/node";
import { verifyCsrf } from "~/admin/csrf.server";
import {
  clearSessionCookie,
  findSession,
  readSessionId,
  type AdminSession,
  type AdminUser,
} from "~/admin/session.server";
import type { AuditContext } from "~/admin/audit.server";
import { getDb } from "~/db/db.server";
import type { AdminRole } from "~/db/schema";
import { clientInfo } from "~/http/request.server";
import { TEXT_NO_STORE } from "~/http/headers";

export type { AdminSession, AdminUser } from "~/admin/session.server";

/**
 * Authorization for the admin area. EVERY admin loader and action calls one of these first (a
 * layout's loader does not protect its children):
 *
 *   export async function loader({ request }: LoaderFunctionArgs) {
 *     const user = await requireRole(request, "admin");
 *     ...
 *   }
 *   export async function action({ request, context }: ActionFunctionArgs) {
 *     const { user, formData } = await requireAction(request, "admin"); // role + CSRF
 *     ... parse formData with a zod schema ...
 *     // One domain function writes the change and its audit row in one transaction.
 *     await updateThing(getDb(), input, operator(user, request, context));
 *   }
 *
 * Roles (docs/admin.md): `agent` searches contacts, sees history and suppresses; `admin` can do
 * all of that and everything else. No valid session → a redirect to /admin/login?redirectTo=…;
 * a valid session with too small a role → 403.
 */

export type Role = AdminRole;
export type Authenticated = { user: AdminUser; session: AdminSession };

const cache = new WeakMap<Request, Promise<Authenticated | null>>();

/** The request's live session and user, or null (looked up once per request). */
export function getAuthenticated(request: Request): Promise<Authenticated | null> {
  let found = cache.get(request);
  if (!found) {
    found = (async () => {
      const id = await readSessionId(request.headers.get("cookie"));
      return id ? findSession(getDb(), id) : null;
    })();
    cache.set(request, found);
  }
  return found;
}

export function hasRole(user: Pick<AdminUser, "role">, role: Role): boolean {
  return role === "agent" || user.role === "admin";
}

/** A path inside the admin area to come back to after logging in; anything else → /admin. */
export function safeRedirectTo(value: unknown): string {
  if (typeof value !== "string") return "/admin";
  if (!value.startsWith("/admin") || value.startsWith("//") || value.includes("\\")) {
    return "/admin";
  }
  if (value.startsWith("/admin/login") || value.startsWith("/admin/logout")) return "/admin";
  return value;
}

export function loginUrl(request: Request): string {
  const url = new URL(request.url);
  // Remix's data requests carry ?_data=…; send people back to the page itself.
  url.searchParams.delete("_data");
  url.searchParams.delete("index");
  const back = safeRedirectTo(`${url.pathname}${url.search}`);
  return back === "/admin"
    ? "/admin/login"
    : `/admin/login?${new URLSearchParams({ redirectTo: back })}`;
}

export function forbidden(message = "You do not have permission to do this."): Response {
  return new Response(message, {
    status: 403,
    statusText: "Forbidden",
    headers: TEXT_NO_STORE,
  });
}

/** The session and user, or a thrown redirect to the login page / 403. */
export async function requireSession(
  request: Request,
  role: Role = "agent",
): Promise<Authenticated> {
  const auth = await getAuthenticated(request);
  if (!auth) {
    const hadCookie = (request.headers.get("cookie") ?? "").includes("heed_admin=");
    throw redirect(
      loginUrl(request),
      hadCookie ? { headers: { "Set-Cookie": await clearSessionCookie() } } : undefined,
    );
  }
  if (!hasRole(auth.user, role)) throw forbidden();
  return auth;
}

export async function requireUser(request: Request): Promise<AdminUser> {
  return (await requireSession(request, "agent")).user;
}

export async function requireRole(request: Request, role: Role): Promise<AdminUser> {
  return (await requireSession(request, role)).user;
}

/**
 * For actions: the role check, then the form (read once, returned), then the CSRF check.
 * Multipart uploads that must stream can call requireSession + verifyCsrfToken (csrf.server.ts)
 * with a token sent in the query string or a header instead.
 */
export async function requireAction(
  request: Request,
  role: Role,
): Promise<Authenticated & { formData: FormData }> {
  const auth = await requireSession(request, role);
  let formData: FormData;
  try {
    formData = await request.formData();
  } catch {
    throw new Response("Bad request: the form could not be read.", { status: 400 });
  }
  verifyCsrf(request, formData, auth.session);
  return { ...auth, formData };
}

/** Who did it and from where, for audit() and for consent changes made by an operator. */
export function operator(user: AdminUser, request: Request, context: AppLoadContext): AuditContext {
  const { ip, userAgent } = clientInfo(request, context);
  return { actor: { type: "admin_user", id: user.id, label: user.email }, ip, userAgent };
}
