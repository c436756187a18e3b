import crypto from "node:crypto";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";

/**
 * API keys for sending systems (docs/api.md). A key looks like `heed_<prefix>_<secret>`: the prefix
 * (12 hex digits) finds the row, the secret (32 random bytes) is stored only as its SHA-256 and
 * compared in constant time. The whole key is shown once, at creation.
 */
export const API_SCOPES = ["links", "check", "contacts", "suppressions", "events"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Record<ApiScope, string> = {
  links: "create preference/unsubscribe links and register campaigns",
  check: "ask whether a message may be sent",
  contacts: "create contacts, read and change their preferences, start subscriptions",
  suppressions: "suppress addresses and export suppressions",
  events: "read the consent events feed",
};

const KEY_RE = /^heed_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export type ApiKeyPrincipal = { id: string; name: string; prefix: string; scopes: ApiScope[] };

function sha256(value: string): Buffer {
  return crypto.createHash("sha256").update(value).digest();
}

export function isApiScope(value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value);
}

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = crypto.randomBytes(6).toString("hex");
  const secret = crypto.randomBytes(32).toString("base64url");
  return { key: `heed_${prefix}_${secret}`, prefix, hash: sha256(secret).toString("hex") };
}

export async function createApiKey(
  db: Db,
  input: { name: string; scopes: readonly ApiScope[]; createdBy?: string | null },
): Promise<{ id: string; key: string; prefix: string }> {
  const name = input.name.trim();
  if (!name) throw new Error("An API key needs a name");
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0 || !scopes.every(isApiScope)) {
    throw new Error(`Scopes must be some of: ${API_SCOPES.join(", ")}`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const { key, prefix, hash } = generateApiKey();
    const row = await db
      .insertInto("api_keys")
      .values({
        name,
        prefix,
        key_hash: hash,
        scopes: sql<string[]>`${sql.val(scopes)}::text[]` as unknown as string[],
        created_by: input.createdBy ?? null,
      })
      .onConflict((oc) => oc.column("prefix").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (row) return { id: row.id, key, prefix };
  }
  throw new Error("Could not allocate a unique API key prefix");
}

/** The key's principal, or null when the key is malformed, unknown, wrong or revoked. */
export async function verifyApiKey(db: Db, presented: string): Promise<ApiKeyPrincipal | null> {
  const m = KEY_RE.exec(presented);
  if (!m) return null;
  const [, prefix, secret] = m as unknown as [string, string, string];
  const row = await db
    .selectFrom("api_keys")
    .select(["id", "name", "prefix", "key_hash", "scopes", "revoked_at", "last_used_at"])
    .where("prefix", "=", prefix)
    .executeTakeFirst();
  // Hash even when there is no row, so timing does not tell a known prefix from an unknown one.
  const presentedHash = sha256(secret);
  const storedHash = Buffer.from(row?.key_hash ?? "0".repeat(64), "hex");
  const match =
    storedHash.length === presentedHash.length && crypto.timingSafeEqual(storedHash, presentedHash);
  if (!row || !match || row.revoked_at) return null;
  // Keep last_used_at roughly current without a write per request.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db
      .updateTable("api_keys")
      .set({ last_used_at: sql<Date>`now()` })
      .where("id", "=", row.id)
      .execute();
  }
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes.filter(isApiScope),
  };
}

export type ApiKeyListItem = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};

export async function listApiKeys(db: Db): Promise<ApiKeyListItem[]> {
  const rows = await db
    .selectFrom("api_keys")
    .leftJoin("admin_users", "admin_users.id", "api_keys.created_by")
    .select([
      "api_keys.id",
      "api_keys.name",
      "api_keys.prefix",
      "api_keys.scopes",
      "api_keys.created_at",
      "api_keys.last_used_at",
      "api_keys.revoked_at",
      "admin_users.email as created_by_email",
    ])
    .orderBy("api_keys.revoked_at", (ob) => ob.desc().nullsFirst())
    .orderBy("api_keys.created_at", "desc")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes,
    createdAt: r.created_at,
    createdBy: r.created_by_email,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revokes a key at once; returns false when it does not exist or was already revoked. */
export async function revokeApiKey(db: Db, id: string): Promise<{ name: string } | null> {
  const row = await db
    .updateTable("api_keys")
    .set({ revoked_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .returning("name")
    .executeTakeFirst();
  return row ?? null;
}
