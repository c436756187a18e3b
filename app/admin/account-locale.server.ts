import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { isLocale, type Locale } from "~/i18n/config";
import { LOCALE_COOKIE } from "~/i18n/i18n.server";

/**
 * The admin area's language an operator chose on their Account page (docs/admin-languages.md):
 * saved on their user (admin_users.locale) and mirrored in the LOCALE_COOKIE, Path=/admin, which
 * negotiateLocale reads before Accept-Language. Logging in sets the cookie from the saved choice.
 */
const ONE_YEAR = 365 * 24 * 3600;

/** The Set-Cookie value for a choice; null clears the cookie (back to the browser's language). */
export function localeCookie(locale: Locale | null): string {
  const attributes = `Path=/admin; SameSite=Lax; HttpOnly${getEnv().isProduction ? "; Secure" : ""}`;
  return locale
    ? `${LOCALE_COOKIE}=${locale}; ${attributes}; Max-Age=${ONE_YEAR}`
    : `${LOCALE_COOKIE}=; ${attributes}; Max-Age=0`;
}

export async function savedLocale(db: Db, userId: string): Promise<Locale | null> {
  const row = await db
    .selectFrom("admin_users")
    .select("locale")
    .where("id", "=", userId)
    .executeTakeFirst();
  return isLocale(row?.locale) ? row.locale : null;
}

/** The cookie for the user's saved choice, or null when they have none. */
export async function localeCookieFor(db: Db, userId: string): Promise<string | null> {
  const locale = await savedLocale(db, userId);
  return locale ? localeCookie(locale) : null;
}

export async function saveLocale(db: Db, userId: string, locale: Locale | null): Promise<void> {
  await db.updateTable("admin_users").set({ locale }).where("id", "=", userId).execute();
}
