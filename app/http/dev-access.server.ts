import type { AppLoadContext } from "@remix-run/node";
import ipaddr from "ipaddr.js";
import { requireRole } from "~/admin/auth.server";
import { getEnv } from "~/env.server";

/**
 * Who may open the development-only pages (/dev/outbox: every queued message, with live
 * preference and unsubscribe links that change anyone's consent). Never in production (404);
 * in development, a client on this machine, or else a logged-in admin (the login page otherwise).
 */

/** True for 127.0.0.0/8, ::1 and ::ffff:127.x.x.x. */
export function isLoopbackAddress(address: string | null | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === "loopback";
}

/**
 * Whether the request comes from this machine: its TCP peer is loopback and so is the client the
 * server sees (req.ip, after TRUST_PROXY). A proxy on this machine relays other people, so a
 * request that carries forwarding headers while TRUST_PROXY is off does not count as local.
 */
export function isLoopbackClient(
  req: {
    socket: { remoteAddress?: string | undefined };
    ip?: string | undefined;
    headers: Record<string, unknown>;
  },
  trustProxy: boolean,
): boolean {
  const forwarded =
    req.headers["x-forwarded-for"] !== undefined || req.headers["forwarded"] !== undefined;
  return (
    isLoopbackAddress(req.socket.remoteAddress) &&
    isLoopbackAddress(req.ip) &&
    (trustProxy || !forwarded)
  );
}

/** For the loaders of /dev/*: throws 404 in production, the login redirect or 403 otherwise. */
export async function requireDevPageAccess(
  request: Request,
  context: AppLoadContext,
): Promise<void> {
  if (getEnv().isProduction) throw new Response("Not found", { status: 404 });
  if (context.loopbackClient === true) return;
  await requireRole(request, "admin");
}
