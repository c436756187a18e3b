import { z } from "zod";
import type { Db } from "~/db/db.server";
import type { LocalizedText } from "~/db/schema";

/**
 * Operator settings kept in the `settings` table (key → JSON). Branding shows on every recipient
 * page and email; the admin area edits it (audited there).
 */
export const BrandingSchema = z.object({
  organizationName: z.string().trim().min(1).max(120),
  logoUrl: z.union([z.url({ protocol: /^https?$/ }), z.literal("")]).default(""),
  /**
   * An uploaded logo (app/settings/logo.server.ts): its file name under /branding/logo/. It wins
   * over logoUrl; "" for none.
   */
  logoFile: z
    .union([z.string().regex(/^[0-9a-f]{16}\.(png|jpg|webp|gif)$/), z.literal("")])
    .default(""),
  /** #rrggbb; the pages derive a readable text colour from it. */
  accentColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, "must be a colour like #2563eb"),
  privacyPolicyUrl: z.union([z.url({ protocol: /^https?$/ }), z.literal("")]).default(""),
  supportEmail: z.union([z.email(), z.literal("")]).default(""),
  /** Shown in SMS HELP replies (carriers want a way to get help: an email or a phone number). */
  supportPhone: z
    .union([
      z
        .string()
        .regex(/^\+?[0-9][0-9 ()./-]{2,30}$/, "must be a phone number such as +1 800 555 0100"),
      z.literal(""),
    ])
    .default(""),
});
export type Branding = z.infer<typeof BrandingSchema>;

/**
 * The branding form: as BrandingSchema, but a logo URL must be https:// (recipient pages are
 * served over https; an http:// image is mixed content the browser blocks or flags). Stored
 * settings are read with BrandingSchema, so an older http:// logo does not lose the branding.
 * The uploaded logo is not a form field: it has its own upload (saveBrandingLogo).
 */
export const BrandingFormSchema = BrandingSchema.omit({ logoFile: true }).extend({
  logoUrl: z
    .union([
      z.url({ protocol: /^https$/, error: "Use an https:// address for the logo." }),
      z.literal(""),
    ])
    .default(""),
});

export const DEFAULT_BRANDING: Branding = {
  organizationName: "Heed",
  logoUrl: "",
  logoFile: "",
  accentColor: "#2563eb",
  privacyPolicyUrl: "",
  supportEmail: "",
  supportPhone: "",
};

export async function getSetting<T>(
  db: Db,
  key: string,
  schema: z.ZodType<T>,
  fallback: T,
): Promise<T> {
  const row = await db
    .selectFrom("settings")
    .select("value")
    .where("key", "=", key)
    .executeTakeFirst();
  if (!row) return fallback;
  const parsed = schema.safeParse(row.value);
  return parsed.success ? parsed.data : fallback;
}

export async function putSetting(db: Db, key: string, value: unknown): Promise<void> {
  await db
    .insertInto("settings")
    .values({ key, value: JSON.stringify(value) })
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({ value: JSON.stringify(value), updated_at: new Date() }),
    )
    .execute();
}

export function getBranding(db: Db): Promise<Branding> {
  return getSetting(db, "branding", BrandingSchema, DEFAULT_BRANDING);
}

export async function saveBranding(
  db: Db,
  branding: z.input<typeof BrandingSchema>,
): Promise<void> {
  await putSetting(db, "branding", BrandingSchema.parse(branding));
}

export type UnsubscribeReason = {
  code: string;
  /** Operator-provided labels by locale; pages fall back to the built-in translation of `code`. */
  labels: LocalizedText;
  position: number;
  enabled: boolean;
  freeText: boolean;
};

/** The reasons recipients can pick, in the operator's order (defaults: docs/recipient-pages.md). */
export async function listReasons(
  db: Db,
  options: { includeDisabled?: boolean } = {},
): Promise<UnsubscribeReason[]> {
  let q = db.selectFrom("unsubscribe_reasons").selectAll().orderBy("position").orderBy("code");
  if (!options.includeDisabled) q = q.where("enabled", "=", true);
  const rows = await q.execute();
  return rows.map((r) => ({
    code: r.code,
    labels: r.labels,
    position: r.position,
    enabled: r.enabled,
    freeText: r.free_text,
  }));
}
