import crypto from "node:crypto";
import { sql } from "kysely";
import { audit } from "~/admin/audit.server";
import { hashPassword, verifyPassword } from "~/admin/password.server";
import { createSession, destroySession, type AdminUser } from "~/admin/session.server";
import { inTransaction, type Db } from "~/db/db.server";
import { hitRateLimit, releaseRateLimit, resetRateLimit } from "~/security/rate-limit.server";

/**
 * Logging in. Attempts are counted per account and per IP address (in the database, so the
 * limits hold across app servers), each reserved atomically before its password is checked;
 * over either limit, no password is checked until the window ends. A success clears the
 * account's count. Unknown accounts, wrong passwords and disabled accounts get the same answer after the
 * same work (an argon2 verification), so the form does not tell which emails exist.
 */
export const LOGIN_LIMITS = {
  account: { limit: 5, windowSeconds: 15 * 60 },
  ip: { limit: 30, windowSeconds: 15 * 60 },
} as const;

export type LoginResult =
  | { ok: true; user: AdminUser; sessionId: string }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "rate_limited"; retryAfterSeconds: number };

export function normalizeLoginEmail(email: string): string {
  return email.normalize("NFC").trim().toLowerCase();
}

function accountKey(email: string): string {
  // Never a clear address in a rate-limit key.
  return `login:account:${crypto.createHash("sha256").update(normalizeLoginEmail(email)).digest("base64url")}`;
}

function ipKey(ip: string | null): string {
  return `login:ip:${ip ?? "unknown"}`;
}

/**
 * Reserves one attempt on every key, atomically in the database, before any password is checked:
 * concurrent attempts each take their own slot, so a burst of guesses sent at once cannot all be
 * checked (a read-then-count-afterwards limit lets every one of them through). Returns the
 * seconds to wait when any key is over its limit, else 0.
 */
export async function reserveAttempt(
  db: Db,
  keys: { key: string; limit: number; windowSeconds: number }[],
): Promise<number> {
  let wait = 0;
  for (const { key, ...limit } of keys) {
    const hit = await hitRateLimit(db, key, limit);
    if (!hit.allowed) wait = Math.max(wait, hit.retryAfterSeconds);
  }
  return wait;
}

let dummyHash: Promise<string> | undefined;
/** A real argon2id hash to verify against when the account does not exist (same timing). */
function timingDummy(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomBytes(16).toString("base64url"));
  return dummyHash;
}

/**
 * Checks a login. Success starts a session (replacing `replacesSession`, the browser's previous
 * one, if any) and is audited; a failure counts against both limits and is audited. Each outcome
 * writes in one transaction.
 */
export async function attemptLogin(
  db: Db,
  input: {
    email: string;
    password: string;
    ip: string | null;
    userAgent: string | null;
    /** The id hash of the session this browser already had: a login replaces it. */
    replacesSession?: string | null;
  },
): Promise<LoginResult> {
  const email = normalizeLoginEmail(input.email);
  const aKey = accountKey(email);
  const iKey = ipKey(input.ip);
  // The attempt is counted before the (slow) password check, so parallel attempts cannot pass
  // the limit together; a success gives its slots back below.
  const wait = await reserveAttempt(db, [
    { key: aKey, ...LOGIN_LIMITS.account },
    { key: iKey, ...LOGIN_LIMITS.ip },
  ]);
  if (wait > 0) return { ok: false, reason: "rate_limited", retryAfterSeconds: wait };

  const user = await db
    .selectFrom("admin_users")
    .select(["id", "email", "name", "role", "password_hash", "disabled_at"])
    .where("email", "=", email)
    .executeTakeFirst();
  const valid = await verifyPassword(user?.password_hash ?? (await timingDummy()), input.password);

  if (!user || !valid || user.disabled_at) {
    // The attempt is already counted against both limits.
    await audit(db, {
      actor: { type: "system", label: "login form" },
      action: "login.failed",
      target: { type: "admin_user", id: user?.id ?? null },
      // The typed email only when it is an account (so typos of passwords are not kept).
      details: user ? { email: user.email, disabled: Boolean(user.disabled_at) } : {},
      ip: input.ip,
      userAgent: input.userAgent,
    });
    return { ok: false, reason: "invalid" };
  }

  const { id } = await inTransaction(db, async (trx) => {
    // A success clears the account's count and gives back its IP slot (colleagues share an IP).
    await resetRateLimit(trx, aKey);
    await releaseRateLimit(trx, iKey);
    if (input.replacesSession) await destroySession(trx, input.replacesSession);
    const session = await createSession(trx, user.id, {
      ip: input.ip,
      userAgent: input.userAgent,
    });
    await trx
      .updateTable("admin_users")
      .set({ last_login_at: sql<Date>`now()` })
      .where("id", "=", user.id)
      .execute();
    await audit(trx, {
      actor: { type: "admin_user", id: user.id, label: user.email },
      action: "login",
      target: { type: "admin_user", id: user.id },
      ip: input.ip,
      userAgent: input.userAgent,
    });
    return session;
  });
  const adminUser: AdminUser = { id: user.id, email: user.email, name: user.name, role: user.role };
  return { ok: true, user: adminUser, sessionId: id };
}

/** Ends the session, audited in the same transaction. */
export async function logout(
  db: Db,
  input: { user: AdminUser; idHash: string; ip: string | null; userAgent: string | null },
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await destroySession(trx, input.idHash);
    await audit(trx, {
      actor: { type: "admin_user", id: input.user.id, label: input.user.email },
      action: "logout",
      target: { type: "admin_user", id: input.user.id },
      ip: input.ip,
      userAgent: input.userAgent,
    });
  });
}
