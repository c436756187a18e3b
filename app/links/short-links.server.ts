import crypto from "node:crypto";
import type { Db } from "~/db/db.server";

/**
 * Short links for SMS (docs/links.md): `/s/{code}`, random URL-safe codes stored server-side.
 * 10 characters of base64url carry 60 bits: guessing one live code is hopeless.
 */
export const SHORT_CODE_LENGTH = 10;
const CODE_RE = /^[A-Za-z0-9_-]{8,32}$/;

export function newShortCode(length = SHORT_CODE_LENGTH): string {
  return crypto
    .randomBytes(Math.ceil((length * 3) / 4))
    .toString("base64url")
    .slice(0, length);
}

export function isShortCode(code: string): boolean {
  return CODE_RE.test(code);
}

/** Stores a short link to a local path (never an external URL: no open redirect). */
export async function createShortLink(
  db: Db,
  target: string,
  expiresAt: Date | null = null,
): Promise<string> {
  if (!target.startsWith("/") || target.startsWith("//")) {
    throw new Error("A short link must point to a path on this server");
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const code = newShortCode();
    const row = await db
      .insertInto("short_links")
      .values({ code, target, expires_at: expiresAt })
      .onConflict((oc) => oc.column("code").doNothing())
      .returning("code")
      .executeTakeFirst();
    if (row) return row.code;
  }
  throw new Error("Could not allocate a unique short code");
}

export type ShortLinkResult =
  { ok: true; target: string } | { ok: false; reason: "not_found" | "expired" };

export async function resolveShortLink(db: Db, code: string): Promise<ShortLinkResult> {
  if (!isShortCode(code)) return { ok: false, reason: "not_found" };
  const row = await db
    .selectFrom("short_links")
    .select(["target", "expires_at"])
    .where("code", "=", code)
    .executeTakeFirst();
  if (!row) return { ok: false, reason: "not_found" };
  if (row.expires_at && row.expires_at.getTime() <= Date.now())
    return { ok: false, reason: "expired" };
  return { ok: true, target: row.target };
}
