import { json } from "@remix-run/node";
import { decodeJwt } from "jose";
import type { Db } from "~/db/db.server";
import type { Locale } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import type { I18nPayload } from "~/i18n/i18n.shared";
import type { Namespace } from "~/i18n/resources";
import { TOKEN_PAGE_HEADERS } from "~/http/request.server";
import type { TokenFailure } from "~/links/tokens.server";
import { cachedBranding, cachedReasons } from "~/recipient/cache.server";
import { contactLocaleHint } from "~/recipient/recipient.server";
import type { PublicBranding } from "~/ui/public-layout";
import type { TokenErrorReason } from "~/ui/token-error";

/**
 * Helpers for the loaders of public (recipient) pages, shared by /p, /u, /s and engineer B's
 * /c and /manage. A loader that returns `...await publicPageData(db, locale, [ns])` gets the
 * page's `lang`, its strings (`useT(ns)`) and the operator's accent colour from the root layout.
 */
/** The headers a token page adds itself (see TOKEN_PAGE_HEADERS). */
export const TOKEN_HEADERS = TOKEN_PAGE_HEADERS;

export type PublicPageData = { locale: Locale; i18n: I18nPayload; branding: PublicBranding };

export async function publicPageData(
  db: Db,
  locale: Locale,
  namespaces: readonly Namespace[] = [],
): Promise<PublicPageData> {
  const b = await cachedBranding(db);
  return {
    locale,
    i18n: i18nPayload(locale, namespaces),
    branding: {
      organizationName: b.organizationName,
      logoUrl: b.logoUrl,
      accentColor: b.accentColor,
      privacyPolicyUrl: b.privacyPolicyUrl,
      supportEmail: b.supportEmail,
    },
  };
}

/**
 * The subject of a token whose signature is good but which failed for expiry or purpose
 * (tokens.server checks the signature first), so that its page speaks the contact's language.
 */
function trustedSubject(token: string, reason: TokenErrorReason): string | null {
  if (reason !== "expired" && reason !== "wrong_purpose" && reason !== "used") return null;
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

export type TokenErrorData = PublicPageData & { tokenError: TokenErrorReason };

/**
 * The localized "this link does not work" page (SPEC §3): 400, or 410 when expired; the token
 * page headers; nothing written. Render it with `<TokenErrorPage reason={data.tokenError}
 * branding={data.branding} />`.
 */
export async function tokenErrorResponse(
  db: Db,
  request: Request,
  token: string | null,
  reason: TokenFailure | "used",
  options: { namespaces?: readonly Namespace[]; status?: number } = {},
) {
  const hint = token ? await contactLocaleHint(db, trustedSubject(token, reason)) : null;
  const locale = negotiateLocale(request, hint);
  const page = await publicPageData(db, locale, options.namespaces);
  const title = getFixedT(locale, "common")(`tokenError.${reason}.title`);
  const data: TokenErrorData & { title: string } = { ...page, tokenError: reason, title };
  return json(data, {
    status: options.status ?? (reason === "expired" ? 410 : 400),
    headers: TOKEN_HEADERS,
  });
}

export type TokenErrorReply = Awaited<ReturnType<typeof tokenErrorResponse>>;

export type ReasonOption = { code: string; label: string; freeText: boolean };

/**
 * The operator's enabled unsubscribe reasons with their labels in `locale`: the operator's own
 * label for that locale wins, then Heed's translation of a default code, then the operator's
 * English label, then the code.
 */
export async function reasonOptions(db: Db, locale: Locale): Promise<ReasonOption[]> {
  const t = getFixedT(locale, "recipient");
  return (await cachedReasons(db)).map((r) => ({
    code: r.code,
    label:
      r.labels[locale]?.trim() ||
      t(`reasons.${r.code}`, { defaultValue: "" }) ||
      r.labels.en?.trim() ||
      r.code,
    freeText: r.freeText,
  }));
}

/** The request's form body, or null when it cannot be read (wrong content type, broken body). */
export async function readForm(request: Request): Promise<FormData | null> {
  try {
    return await request.formData();
  } catch {
    return null;
  }
}
