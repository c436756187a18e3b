import crypto from "node:crypto";
import { sql } from "kysely";

import { z } from "zod";

import { audit, type AuditContext } from "~/admin/audit.server";

import { hashPassword, verifyPassword } from "~/admin/password.server";

import { destroyUserSessions, type AdminUser } from "~/admin/session.server";

import { inTransaction, type Db, type Trx } from "~/db/db.server";

import { hitRateLimit, resetRateLimit } from "~/security/rate-limit.server";

import type { AdminRole } from "~/db/schema";

import { ROLES } from "~/admin/roles";

/**
 * Admin-area users: create (with a password the admin gives or one generated and shown once),
 * change role, disable / enable, reset a password; and a user's own password change. There is
 * always at least one enabled admin. Disabling a user or resetting a password ends their sessions.
 */

export { ROLES };
export const PASSWORD_MIN = 12;

export const PasswordSchema = z
  .string()
  .min(PASSWORD_MIN, `Use at least ${PASSWORD_MIN} characters.`)
  .max(1024, "Use at most 1024 characters.");

export const NewUserSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email("Enter a valid email address.").max(320)),
  name: z
    .string()
    .trim()
    .max(200)
    .transform((v) => v || null),
  role: z.enum(ROLES, "Pick a role."),
  password: z.union([PasswordSchema, z.literal("")]).transform((v) => v || null),
});
export type NewUser = z.input<typeof NewUserSchema>;

/** The users page's forms (here, not in the route: a schema built from values stays on the server). */
export const UserIdSchema = z.object({ id: z.uuid("Unknown user.") });
export const RoleChangeSchema = UserIdSchema.extend({ role: z.enum(ROLES) });

export type UserRecord = AdminUser & {
  createdAt: Date;
  lastLoginAt: Date | null;
  disabledAt: Date | null;
};

export class UserError extends Error {
  constructor(
    readonly code:
      "exists" | "not_found" | "last_admin" | "self" | "wrong_password" | "rate_limited",
    message: string,
    /** For rate_limited: seconds until another attempt is allowed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * Attempts at one's own password change (the current password is checked like a login): a
 * stolen session must not become an unlimited password oracle.
 */
export const OWN_PASSWORD_LIMIT = { limit: 5, windowSeconds: 15 * 60 } as const;

export async function listUsers(db: Db): Promise<UserRecord[]> {
  const rows = await db
    .selectFrom("admin_users")
    .select(["id", "email", "name", "role", "created_at", "last_login_at", "disabled_at"])
    .orderBy("email")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
    disabledAt: r.disabled_at,
  }));
}

export function generatePassword(): string {
  return crypto.randomBytes(15).toString("base64url");
}

/** Creates a user; returns it and the password when one was generated (to show once). */
export async function createUser(
  db: Db,
  input: NewUser,
  by: AuditContext,
): Promise<{ user: AdminUser; generatedPassword: string | null }> {
  const u = NewUserSchema.parse(input);
  const password = u.password ?? generatePassword();
  const passwordHash = await hashPassword(password);
  return inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto("admin_users")
      .values({ email: u.email, name: u.name, role: u.role, password_hash: passwordHash })
      .onConflict((oc) => oc.column("email").doNothing())
      .returning(["id", "email", "name", "role"])
      .executeTakeFirst();
    if (!row) throw new UserError("exists", `A user with the email ${u.email} already exists.`);
    await audit(trx, {
      ...by,
      action: "user.create",
      target: { type: "admin_user", id: row.id },
      details: { email: row.email, role: row.role },
    });
    return { user: row, generatedPassword: u.password ? null : password };
  });
}

async function lockUser(trx: Trx, id: string) {
  const row = await trx
    .selectFrom("admin_users")
    .select(["id", "email", "role", "disabled_at"])
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new UserError("not_found", "There is no such user.");
  return row;
}

/** Refuses a change that would leave no enabled admin (serialized by locking the admin rows). */
async function ensureAnotherAdmin(trx: Trx, exceptId: string): Promise<void> {
  const others = await trx
    .selectFrom("admin_users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .where("id", "!=", exceptId)
    .forUpdate()
    .execute();
  if (others.length === 0) {
    throw new UserError("last_admin", "This is the only enabled admin: there must always be one.");
  }
}

export async function setUserRole(
  db: Db,
  id: string,
  role: AdminRole,
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const user = await lockUser(trx, id);
    if (user.role === role) return;
    if (user.role === "admin" && !user.disabled_at) await ensureAnotherAdmin(trx, id);
    await trx.updateTable("admin_users").set({ role }).where("id", "=", id).execute();
    await audit(trx, {
      ...by,
      action: "user.role",
      target: { type: "admin_user", id },
      details: { email: user.email, from: user.role, to: role },
    });
  });
}

export async function setUserDisabled(
  db: Db,
  id: string,
  disabled: boolean,
  by: AuditContext,
): Promise<void> {
  if (disabled && by.actor.type === "admin_user" && by.actor.id === id) {
    throw new UserError("self", "You cannot disable your own account.");
  }
  await inTransaction(db, async (trx) => {
    const user = await lockUser(trx, id);
    if (Boolean(user.disabled_at) === disabled) return;
    if (disabled && user.role === "admin") await ensureAnotherAdmin(trx, id);
    await trx
      .updateTable("admin_users")
      .set({ disabled_at: disabled ? sql<Date>`now()` : null })
      .where("id", "=", id)
      .execute();
    if (disabled) await destroyUserSessions(trx, id);
    await audit(trx, {
      ...by,
      action: disabled ? "user.disable" : "user.enable",
      target: { type: "admin_user", id },
      details: { email: user.email },
    });
  });
}

/** An admin sets a new password for a user (generated when not given); their sessions end. */
export async function resetUserPassword(
  db: Db,
  id: string,
  newPassword: string | null,
  by: AuditContext,
): Promise<{ email: string; generatedPassword: string | null }> {
  const password = newPassword ? PasswordSchema.parse(newPassword) : generatePassword();
  const passwordHash = await hashPassword(password);
  const email = await inTransaction(db, async (trx) => {
    const user = await lockUser(trx, id);
    await trx
      .updateTable("admin_users")
      .set({ password_hash: passwordHash })
      .where("id", "=", id)
      .execute();
    await destroyUserSessions(trx, id);
    await audit(trx, {
      ...by,
      action: "user.password_reset",
      target: { type: "admin_user", id },
      details: { email: user.email },
    });
    return user.email;
  });
  return { email, generatedPassword: newPassword ? null : password };
}

/** A user changes their own password (knowing the current one); their other sessions end. */
export async function changeOwnPassword(
  db: Db,
  input: {
    user: AdminUser;
    currentPassword: string;
    newPassword: string;
    keepSession: string;
    by: AuditContext;
  },
): Promise<void> {
  // Reserved before the check, atomically, as for logins (app/admin/login.server.ts).
  const key = `password:user:${input.user.id}`;
  const hit = await hitRateLimit(db, key, OWN_PASSWORD_LIMIT);
  if (!hit.allowed) {
    const minutes = Math.ceil(hit.retryAfterSeconds / 60);
    throw new UserError(
      "rate_limited",
      `Too many attempts: try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
      hit.retryAfterSeconds,
    );
  }
  const row = await db
    .selectFrom("admin_users")
    .select("password_hash")
    .where("id", "=", input.user.id)
    .executeTakeFirst();
  if (!row || !(await verifyPassword(row.password_hash, input.currentPassword))) {
    throw new UserError("wrong_password", "The current password is not correct.");
  }
  const passwordHash = await hashPassword(PasswordSchema.parse(input.newPassword));
  await inTransaction(db, async (trx) => {
    await trx
      .updateTable("admin_users")
      .set({ password_hash: passwordHash })
      .where("id", "=", input.user.id)
      .execute();
    await destroyUserSessions(trx, input.user.id, { except: input.keepSession });
    await resetRateLimit(trx, key);
    await audit(trx, {
      ...input.by,
      action: "user.password_change",
      target: { type: "admin_user", id: input.user.id },
    });
  });
}
