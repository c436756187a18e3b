import { getCountries, getCountryCallingCode, type CountryCode } from "libphonenumber-js/max";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { getSetting, putSetting } from "~/settings/settings.server";

/**
 * The default country of phone numbers written without a country code (`777 111 222` read as a
 * Czech number): an admin setting stored in the `settings` table (key `phone_region`), falling
 * back to the DEFAULT_PHONE_REGION environment variable when it is not set.
 *
 * Address normalization is synchronous and runs deep inside the consent core, so the value is
 * kept in this process and read with `defaultPhoneRegion()`; `refreshPhoneRegion(db)` reloads it
 * when it is older than a few seconds (the import task, the address search, manual suppression
 * and the admin page call it; a save reloads it at once). Other servers see a change within the
 * same few seconds as the recipient pages' settings cache (docs/architecture.md).
 */

const KEY = "phone_region";
const MAX_AGE_MS = 5_000;

export const PHONE_REGIONS: readonly CountryCode[] = getCountries();

export function isPhoneRegion(value: unknown): value is CountryCode {
  return typeof value === "string" && (PHONE_REGIONS as readonly string[]).includes(value);
}

/** "+420" for CZ. */
export function callingCode(region: string): string {
  return isPhoneRegion(region) ? `+${getCountryCallingCode(region)}` : "";
}

const StoredSchema = z.object({
  region: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .nullable(),
});

let cached: { region: string | null; at: number } | null = null;

/** Forgets the copy in this process (tests: the next file's database may hold another setting). */
export function resetPhoneRegionForTests(): void {
  cached = null;
}

/** The default country now: the admin setting, else DEFAULT_PHONE_REGION, else none. */
export function defaultPhoneRegion(): string | undefined {
  return cached?.region ?? getEnv().DEFAULT_PHONE_REGION ?? undefined;
}

/** Reloads the setting when the copy in this process is older than a few seconds. */
export async function refreshPhoneRegion(db: Db, force = false): Promise<string | undefined> {
  if (force || !cached || Date.now() - cached.at > MAX_AGE_MS) {
    const stored = await getSetting(db, KEY, StoredSchema, { region: null });
    cached = { region: isPhoneRegion(stored.region) ? stored.region : null, at: Date.now() };
  }
  return defaultPhoneRegion();
}

export type PhoneRegionSetting = {
  /** The admin setting (null: not set). */
  region: string | null;
  /** DEFAULT_PHONE_REGION, used when the setting is not set. */
  envRegion: string | null;
  /** What is used now. */
  effective: string | null;
};

export async function getPhoneRegionSetting(db: Db): Promise<PhoneRegionSetting> {
  await refreshPhoneRegion(db, true);
  return {
    region: cached?.region ?? null,
    envRegion: getEnv().DEFAULT_PHONE_REGION ?? null,
    effective: defaultPhoneRegion() ?? null,
  };
}

/** An admin sets (or clears, with null) the default country; audited in the same transaction. */
export async function savePhoneRegion(
  db: Db,
  region: string | null,
  by: AuditContext,
): Promise<void> {
  if (region !== null && !isPhoneRegion(region)) throw new Error(`Unknown country: ${region}`);
  await inTransaction(db, async (trx) => {
    const before = await getSetting(trx, KEY, StoredSchema, { region: null });
    if (before.region === region) return;
    await putSetting(trx, KEY, { region });
    await audit(trx, {
      ...by,
      action: "settings.phone_region",
      target: { type: "settings", id: KEY },
      details: { from: before.region, to: region },
    });
  });
  await refreshPhoneRegion(db, true);
}
