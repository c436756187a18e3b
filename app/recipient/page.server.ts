import { json } from "@remix-run/node";
import type { Db } from "~/db/db.server";
import type { Locale } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale, type HasHeaders } from "~/i18n/i18n.server";
import type { I18nPayload } from "~/i18n/i18n.shared";
import type { Namespace } from "~/i18n/resources";
import { TOKEN_PAGE_HEADERS } from "~/http/request.server";
import {
  genuineClaims,
  verifyLinkToken,
  type LinkClaims,
  type Purpose,
  type TokenFailure,
} from "~/links/tokens.server";
import { cachedBranding, cachedReasons } from "~/recipient/cache.server";
import { logoSrc } from "~/settings/logo.server";
import { contactLocaleHint } from "~/recipient/recipient.server";
import type { PublicBranding } from "~/ui/public-layout";
import type { TokenErrorReason } from "~/ui/token-error";

/**
 * Helpers for the loaders of public (recipient) pages, shared by /p, /u, /c, /s and /manage. A
 * loader that returns `...await publicPageData(db, locale, [ns])` gets the page's `lang`, its
 * strings (`useT(ns)`) and the operator's accent colour from the root layout.
 */
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
      // The uploaded logo wins over the logo URL (app/settings/logo.server.ts).
      logoUrl: logoSrc(b),
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
  return genuineClaims(token)?.sub ?? null;
}

export type TokenErrorData = PublicPageData & { tokenError: TokenErrorReason };

/**
 * The localized "this link does not work" page (docs/links.md): 400, or 410 when expired; the token
 * page headers; nothing written. Render it with `<TokenErrorPage reason={data.tokenError}
 * branding={data.branding} />`.
 */
export async function tokenErrorResponse(
  db: Db,
  /** Only its headers are read (the language). */
  request: HasHeaders,
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
    headers: TOKEN_PAGE_HEADERS,
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
  const reasons = await cachedReasons(db);
  // Labelled once per locale for each read of the reasons (the cache hands out the same array
  // until it reads them again): every unsubscribe and preference page shows them, and looking
  // the labels up through i18next on each request was a visible part of a page's cost.
  let byLocale = labelled.get(reasons);
  if (!byLocale) labelled.set(reasons, (byLocale = new Map()));
  let options = byLocale.get(locale);
  if (!options) {
    const t = getFixedT(locale, "recipient");
    options = reasons.map((r) => ({
      code: r.code,
      label:
        r.labels[locale]?.trim() ||
        t(`reasons.${r.code}`, { defaultValue: "" }) ||
        r.labels.en?.trim() ||
        r.code,
      freeText: r.freeText,
    }));
    byLocale.set(locale, options);
  }
  // A copy of the list (its options are never changed), so a caller may reorder or extend it.
  return [...options];
}
const labelled = new WeakMap<readonly object[], Map<Locale, ReasonOption[]>>();

/** The request's form body, or null when it cannot be read (wrong content type, broken body). */
export async function readForm(request: Request): Promise<FormData | null> {
  try {
    return await request.formData();
  } catch {
    return null;
  }
}

/**
 * The claims of a token that is genuine but past its expiry (its signature is good), so that a
 * confirmation page can still offer a new confirmation for its request.
 */
function expiredClaims(token: string, purpose: Purpose): LinkClaims | null {
  const claims = genuineClaims(token);
  return claims?.pur === purpose ? claims : null;
}

export type ResolvedToken<T> =
  ({ ok: true; claims: LinkClaims; locale: Locale } & T) | { ok: false; response: TokenErrorReply };

/**
 * What every token page (/p, /u, /c) does first, for its loader and its action alike: verify the
 * token for its purpose, load what it refers to, and pick the page's language. A bad, tampered,
 * expired or wrong-purpose token, or one whose contact or request is gone, resolves to the
 * localized token error page (nothing written).
 *
 * `load` gets the claims and a function that turns a stored locale into the page's locale (the
 * stored one, then Accept-Language); it returns what the page needs with the locale it chose, or
 * null when what the token refers to no longer exists.
 */
export async function resolveLinkToken<T extends object>(
  db: Db,
  /** Only its headers are read (the language). */
  request: HasHeaders,
  token: string,
  purpose: Purpose,
  options: {
    namespaces: readonly Namespace[];
    /** A genuine but expired token still resolves (its page offers a new link instead). */
    acceptExpired?: boolean;
    load: (
      claims: LinkClaims,
      localeOf: (stored: string | null | undefined) => Locale,
    ) => Promise<(T & { locale: Locale }) | null>;
  },
): Promise<ResolvedToken<T>> {
  const fail = async (reason: TokenFailure) => ({
    ok: false as const,
    response: await tokenErrorResponse(db, request, token, reason, {
      namespaces: options.namespaces,
    }),
  });
  const verified = await verifyLinkToken(token, purpose);
  let claims = verified.ok ? verified.claims : null;
  if (!verified.ok && verified.reason === "expired" && options.acceptExpired) {
    claims = expiredClaims(token, purpose);
  }
  if (!claims) return fail(verified.ok ? "invalid" : verified.reason);
  const loaded = await options.load(claims, (stored) => negotiateLocale(request, stored));
  if (!loaded) return fail("invalid");
  return { ok: true, claims, ...loaded };
}
