import crypto from "node:crypto";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import type { Branding } from "~/settings/settings.server";

/**
 * The logo an admin uploads on /admin/branding (README: Settings, branding): checked by its bytes,
 * kept in the database (table branding_logos, so that every server process and PGlite serve the
 * same file: docs/decisions/0090-logo-in-the-database.md), and served by Heed at
 * /branding/logo/<first 16 hex digits of its SHA-256>.<ext> with a year-long immutable cache: a
 * new upload is a new URL.
 */

/** The largest logo accepted (said on the page). */
export const LOGO_MAX_BYTES = 512 * 1024;

/**
 * The largest upload body read whole (the input guard refuses larger ones before reading them).
 * A body up to this is read to its end even when the file in it is too large: a refusal in the
 * middle of a body left Chromium's next request on the page waiting for about a minute.
 */
export const LOGO_UPLOAD_MAX_BODY_BYTES = 8 * 1024 * 1024;

export const LOGO_TYPES = {
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
} as const;
export type LogoExt = keyof typeof LOGO_TYPES;

/** The stored logo's file name, as in its URL. */
export const LOGO_NAME = /^[0-9a-f]{16}\.(png|jpg|webp|gif)$/;

export type LogoProblem = "missing" | "too_large" | "svg" | "type";

export class LogoError extends Error {
  constructor(readonly problem: LogoProblem) {
    super(`logo refused: ${problem}`);
    this.name = "LogoError";
  }
}

function startsWith(bytes: Uint8Array, signature: readonly number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((b, i) => bytes[at + i] === b);
}

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/**
 * The image type of these bytes by their signature (magic bytes), whatever name or type the
 * browser declared: PNG, JPEG, WebP or GIF; "svg" for SVG (and other XML/HTML text), which can
 * carry script; null for anything else.
 */
export function sniffLogo(bytes: Uint8Array): LogoExt | "svg" | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpg";
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) return "gif";
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return "webp";
  const head = Buffer.from(bytes.subarray(0, 1024))
    .toString("utf8")
    .replace(/^\uFEFF/, "")
    .trimStart()
    .toLowerCase();
  if (head.startsWith("<")) return "svg";
  return null;
}

/** Checks an uploaded file; throws LogoError with the reason it is refused. */
export function checkLogo(bytes: Uint8Array | null): { ext: LogoExt; contentType: string } {
  if (!bytes || bytes.byteLength === 0) throw new LogoError("missing");
  if (bytes.byteLength > LOGO_MAX_BYTES) throw new LogoError("too_large");
  const kind = sniffLogo(bytes);
  if (kind === "svg") throw new LogoError("svg");
  if (!kind) throw new LogoError("type");
  return { ext: kind, contentType: LOGO_TYPES[kind] };
}

/** Stores checked bytes (once per content) and returns their file name. */
export async function storeLogo(
  db: Db,
  bytes: Uint8Array,
  uploadedBy: string | null,
): Promise<{ name: string; contentType: string; size: number }> {
  const { ext, contentType } = checkLogo(bytes);
  const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");
  const name = `${sha256.slice(0, 16)}.${ext}`;
  await sql`
    insert into branding_logos (name, sha256, content_type, bytes, size, uploaded_by)
    values (${name}, ${sha256}, ${contentType}, ${Buffer.from(bytes)}, ${bytes.byteLength},
      ${uploadedBy})
    on conflict (name) do nothing`.execute(db);
  return { name, contentType, size: bytes.byteLength };
}

/** A stored logo's bytes and type, or null. */
export async function readLogo(
  db: Db,
  name: string,
): Promise<{ bytes: Uint8Array; contentType: string } | null> {
  if (!LOGO_NAME.test(name)) return null;
  const { rows } = await sql<{ bytes: Uint8Array; content_type: string }>`
    select bytes, content_type from branding_logos where name = ${name}`.execute(db);
  const row = rows[0];
  return row ? { bytes: row.bytes, contentType: row.content_type } : null;
}

export function logoPath(name: string): string {
  return `/branding/logo/${name}`;
}

/**
 * The logo that recipient pages and emails show: the uploaded one (it wins), else the logo URL,
 * else none (""). `base` makes an uploaded logo's URL absolute (emails: PUBLIC_URL).
 */
export function logoSrc(branding: Pick<Branding, "logoFile" | "logoUrl">, base = ""): string {
  if (branding.logoFile) return `${base.replace(/\/+$/, "")}${logoPath(branding.logoFile)}`;
  return branding.logoUrl;
}
