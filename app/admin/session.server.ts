import crypto from "node:crypto";
import { createCookie, type Cookie } from "@remix-run/node";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import type { AdminRole } from "~/db/schema";
import { getEnv } from "~/env.server";
import { getSecrets } from "~/secrets.server";

/**
 * Admin sessions, kept in the database (admin_sessions) so that any number of app servers share
 * them and a logout or a disabled user takes effect everywhere at once.
 *
 * The cookie holds a random 256-bit id, signed with SESSION_SECRET; the table holds only a
 * SHA-256 of it, so a copy of the database does not hand out live sessions. A session ends after
 * ADMIN_SESSION_IDLE_MINUTES without requests (sliding `expires_at`) and in any case
 * ADMIN_SESSION_MAX_HOURS after login (absolute).
 */

export type AdminUser = { id: string; email: string; name: string | null; role: AdminRole };
export type AdminSession = {
  /** The SHA-256 of the session id (the admin_sessions primary key). */
  idHash: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
};

export function sessionLimits(): { idleMs: number; maxMs: number } {
  const env = getEnv();
  return {
    idleMs: env.ADMIN_SESSION_IDLE_MINUTES * 60_000,
    maxMs: env.ADMIN_SESSION_MAX_HOURS * 3_600_000,
  };
}

export function hashSessionId(id: string): string {
  return crypto.createHash("sha256").update(id).digest("hex");
}

let cookieCache: { secret: string; production: boolean; cookie: Cookie } | undefined;

/**
 * The session cookie: HttpOnly, SameSite=Lax, Path=/, Secure in production (where it also takes
 * the `__Host-` prefix, so no subdomain can set or shadow it).
 */
export function sessionCookie(): Cookie {
  const secret = getSecrets().sessionSecret;
  const production = getEnv().isProduction;
  if (cookieCache?.secret !== secret || cookieCache.production !== production) {
    cookieCache = {
      secret,
      production,
      cookie: createCookie(production ? "__Host-heed_admin" : "heed_admin", {
        httpOnly: true,
        sameSite: "lax",
        secure: production,
        path: "/",
        secrets: [secret],
        maxAge: Math.floor(sessionLimits().maxMs / 1000),
      }),
    };
  }
  return cookieCache.cookie;
}

/** Creates a session for the user; returns the id to put in the cookie. */
export async function createSession(
  db: Db,
  userId: string,
  info: { ip: string | null; userAgent: string | null },
): Promise<{ id: string; session: AdminSession }> {
  const id = crypto.randomBytes(32).toString("base64url");
  const { idleMs, maxMs } = sessionLimits();
  const now = Date.now();
  const expiresAt = new Date(now + Math.min(idleMs, maxMs));
  const row = await db
    .insertInto("admin_sessions")
    .values({
      id_hash: hashSessionId(id),
      user_id: userId,
      expires_at: expiresAt,
      ip: info.ip,
      user_agent: info.userAgent,
    })
    .returning(["id_hash", "user_id", "created_at", "expires_at"])
    .executeTakeFirstOrThrow();
  return {
    id,
    session: {
      idHash: row.id_hash,
      userId: row.user_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    },
  };
}

/**
 * The live session for a session id and its (enabled) user, or null. Slides the idle expiry
 * forward, at most once a minute per session, never past the absolute limit.
 */
export async function findSession(
  db: Db,
  id: string,
): Promise<{ session: AdminSession; user: AdminUser } | null> {
  if (!id || id.length > 128) return null;
  const idHash = hashSessionId(id);
  const row = await db
    .selectFrom("admin_sessions as s")
    .innerJoin("admin_users as u", "u.id", "s.user_id")
    .select([
      "s.id_hash",
      "s.user_id",
      "s.created_at",
      "s.expires_at",
      "u.email",
      "u.name",
      "u.role",
    ])
    .where("s.id_hash", "=", idHash)
    .where("s.expires_at", ">", sql<Date>`now()`)
    .where("u.disabled_at", "is", null)
    .executeTakeFirst();
  if (!row) return null;
  const { idleMs, maxMs } = sessionLimits();
  const absoluteEnd = row.created_at.getTime() + maxMs;
  if (absoluteEnd <= Date.now()) {
    await destroySession(db, idHash);
    return null;
  }
  let expiresAt = row.expires_at;
  const slid = Math.min(Date.now() + idleMs, absoluteEnd);
  if (slid - expiresAt.getTime() > 60_000) {
    expiresAt = new Date(slid);
    await db
      .updateTable("admin_sessions")
      .set({ expires_at: expiresAt })
      .where("id_hash", "=", idHash)
      .execute();
  }
  return {
    session: { idHash, userId: row.user_id, createdAt: row.created_at, expiresAt },
    user: { id: row.user_id, email: row.email, name: row.name, role: row.role },
  };
}

export async function destroySession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom("admin_sessions").where("id_hash", "=", idHash).execute();
}

/** Ends every session of a user (disabled, password changed, role lowered). */
export async function destroyUserSessions(
  db: Db,
  userId: string,
  options: { except?: string } = {},
): Promise<void> {
  let q = db.deleteFrom("admin_sessions").where("user_id", "=", userId);
  if (options.except) q = q.where("id_hash", "!=", options.except);
  await q.execute();
}

/** Reads the session id from a Cookie header (null when absent or the signature is wrong). */
export async function readSessionId(cookieHeader: string | null): Promise<string | null> {
  if (!cookieHeader) return null;
  const value: unknown = await sessionCookie().parse(cookieHeader);
  return typeof value === "string" && value.length > 0 ? value : null;
}

export function commitSessionCookie(id: string): Promise<string> {
  return sessionCookie().serialize(id);
}

export function clearSessionCookie(): Promise<string> {
  return sessionCookie().serialize("", { maxAge: 0, expires: new Date(0) });
}
