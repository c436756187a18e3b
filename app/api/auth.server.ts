import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { ApiError } from "~/api/errors.server";
import { verifyApiKey, type ApiKeyPrincipal, type ApiScope } from "~/api/keys.server";
import { hitRateLimit } from "~/security/rate-limit.server";

/**
 * Authenticates a sender API request: `Authorization: Bearer heed_…` (401 without a valid key),
 * the key's scope (403), and the key's rate limit (429, shared by every app server).
 */
export async function authenticateRequest(
  db: Db,
  request: Request,
  scope: ApiScope,
): Promise<ApiKeyPrincipal> {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const challenge = { "WWW-Authenticate": 'Bearer realm="heed"' };
  if (!m) {
    throw new ApiError(
      401,
      "unauthorized",
      "Send an API key as Authorization: Bearer <key>",
      null,
      challenge,
    );
  }
  const key = await verifyApiKey(db, m[1]!);
  if (!key) {
    throw new ApiError(401, "unauthorized", "The API key is invalid or revoked", null, {
      "WWW-Authenticate": 'Bearer realm="heed", error="invalid_token"',
    });
  }
  if (!key.scopes.includes(scope)) {
    throw new ApiError(403, "forbidden", `This API key does not have the "${scope}" scope`, {
      requiredScope: scope,
      keyScopes: key.scopes,
    });
  }
  const limit = getEnv().API_RATE_LIMIT_PER_MINUTE;
  const hit = await hitRateLimit(db, `api:key:${key.id}`, { limit, windowSeconds: 60 });
  if (!hit.allowed) {
    throw new ApiError(
      429,
      "rate_limited",
      `Too many requests: this key may make ${limit} requests a minute`,
      { limit, retryAfterSeconds: hit.retryAfterSeconds },
      { "Retry-After": String(hit.retryAfterSeconds) },
    );
  }
  return key;
}
