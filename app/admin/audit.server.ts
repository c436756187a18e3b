import type { Db } from "~/db/db.server";

/**
 * The audit log of operator actions (docs/admin.md): who, what, on what, when, from where.
 * Call it inside the transaction of the change it records, so that both happen or neither.
 * Never put secrets (passwords, API keys, tokens) in `details`.
 */

export type AuditActor = {
  type: "admin_user" | "api_key" | "system";
  id?: string | null;
  /** A readable name kept with the row (the user's email), so the log reads well after deletions. */
  label?: string | null;
};

export type AuditContext = { actor: AuditActor; ip?: string | null; userAgent?: string | null };

export type AuditInput = AuditContext & {
  /** `thing.verb`, e.g. `suppression.add`, `topic.update`, `user.disable`. */
  action: string;
  target?: { type: string; id?: string | null } | null;
  details?: Record<string, unknown>;
};

export async function audit(db: Db, input: AuditInput): Promise<void> {
  await db
    .insertInto("audit_log")
    .values({
      actor_type: input.actor.type,
      actor_id: input.actor.id ?? null,
      actor_label: input.actor.label ?? null,
      action: input.action,
      target_type: input.target?.type ?? null,
      target_id: input.target?.id ?? null,
      details: JSON.stringify(input.details ?? {}),
      ip: input.ip ?? null,
      user_agent: input.userAgent ? input.userAgent.slice(0, 512) : null,
    })
    .execute();
}

export type AuditEntry = {
  id: number;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  ip: string | null;
  userAgent: string | null;
};

export type AuditFilter = {
  /** Matches the start of the action (`suppression` finds suppression.add and .remove). */
  action?: string;
  /** The actor's label (email) or id, exactly. */
  actor?: string;
  /** The target's id, exactly. */
  target?: string;
};

/**
 * Newest first, keyset-paginated on the id: `before` is the last id of the previous page.
 * Returns one page and the cursor of the next one (null at the end).
 */
export async function listAudit(
  db: Db,
  options: AuditFilter & { before?: number | null; limit?: number } = {},
): Promise<{ entries: AuditEntry[]; nextBefore: number | null }> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  let q = db.selectFrom("audit_log").selectAll();
  if (options.before) q = q.where("id", "<", options.before);
  if (options.action) {
    const escaped = options.action.replace(/[\\%_]/g, (c) => `\\${c}`);
    q = q.where("action", "like", `${escaped}%`);
  }
  if (options.actor) {
    const actor = options.actor;
    q = q.where((eb) => eb.or([eb("actor_label", "=", actor), eb("actor_id", "=", actor)]));
  }
  if (options.target) q = q.where("target_id", "=", options.target);
  const rows = await q
    .orderBy("id", "desc")
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  return {
    entries: page.map((r) => ({
      id: Number(r.id),
      occurredAt: r.occurred_at,
      actorType: r.actor_type,
      actorId: r.actor_id,
      actorLabel: r.actor_label,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      details: r.details,
      ip: r.ip,
      userAgent: r.user_agent,
    })),
    nextBefore: rows.length > limit ? Number(page[page.length - 1]!.id) : null,
  };
}
