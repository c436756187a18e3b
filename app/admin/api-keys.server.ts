import { audit, type AuditContext } from "~/admin/audit.server";
import { createApiKey, revokeApiKey, type ApiScope } from "~/api/keys.server";
import { inTransaction, type Db } from "~/db/db.server";

/**
 * API keys as operators manage them (the admin area, `npm run apikey:create`): each change and
 * its audit row in one transaction, on top of the primitives in app/api/keys.server.ts.
 */

/** Creates a key for the operator; the whole key is returned once, to be shown once. */
export async function createApiKeyAudited(
  db: Db,
  input: { name: string; scopes: readonly ApiScope[] },
  by: AuditContext,
): Promise<{ id: string; key: string; prefix: string }> {
  return inTransaction(db, async (trx) => {
    const createdBy = by.actor.type === "admin_user" ? (by.actor.id ?? null) : null;
    const created = await createApiKey(trx, { ...input, createdBy });
    await audit(trx, {
      ...by,
      action: "api_key.create",
      target: { type: "api_key", id: created.id },
      details: { name: input.name, scopes: input.scopes, prefix: created.prefix },
    });
    return created;
  });
}

/** Revokes a key at once; null when it does not exist or was already revoked (nothing audited). */
export async function revokeApiKeyAudited(
  db: Db,
  id: string,
  by: AuditContext,
): Promise<{ name: string } | null> {
  return inTransaction(db, async (trx) => {
    const revoked = await revokeApiKey(trx, id);
    if (!revoked) return null;
    await audit(trx, {
      ...by,
      action: "api_key.revoke",
      target: { type: "api_key", id },
      details: { name: revoked.name },
    });
    return revoked;
  });
}
