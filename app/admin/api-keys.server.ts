import { audit, type AuditContext } from "~/admin/audit.server";
import { z } from "zod";
import { API_SCOPES, createApiKey, revokeApiKey, type ApiScope } from "~/api/keys.server";
import { inTransaction, type Db } from "~/db/db.server";

/**
 * API keys as operators manage them (the admin area, `npm run apikey:create`): each change and
 * its audit row in one transaction, on top of the primitives in app/api/keys.server.ts.
 */

/**
 * The API keys page's forms. They live here, not in the route module: a schema built from a
 * server-only value (API_SCOPES) at the top of a route runs in the browser too, where that value is
 * `undefined`, and the route module then fails to load (issue 15.1).
 */
export const NewApiKeySchema = z.object({
  name: z.string().trim().min(1, "Give the key a name.").max(200, "At most 200 characters."),
  scopes: z.array(z.enum(API_SCOPES)).min(1, "Choose at least one scope."),
});
export const RevokeApiKeySchema = z.object({ id: z.uuid("Unknown key.") });

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
