import type { Db } from "~/db/db.server";
import type { Locale } from "~/i18n/config";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import { genuineClaims, verifyLinkTokenSync, type TokenFailure } from "~/links/tokens.server";
import { cachedTopics } from "~/recipient/cache.server";
import {
  contactLocaleHint,
  loadContact,
  unsubscribeByLink,
  unsubscribeLinkAddress,
} from "~/recipient/recipient.server";

/**
 * RFC 8058 one-click, off the page path (docs/recipient-pages.md#one-click): what the server
 * does with a `List-Unsubscribe=One-Click` POST to /u/{token}, without Remix (no loaders, no
 * render). Verify the token (in process), read the contact (one query: its address and
 * language), and unsubscribe through the one door in one statement
 * (app/consent/link-unsubscribe.server.ts). The same rules as the page: idempotent, the link's
 * channel (and topic), source `one_click`, the link's campaign, the ledger row and the webhook
 * deliveries; a link whose contact was deleted or erased still unsubscribes its address.
 */

export type OneClickOutcome =
  | { status: 200; changed: boolean; locale: Locale }
  | { status: 400 | 410; reason: TokenFailure; locale: Locale };

type Who = { ip: string | null; userAgent: string | null; acceptLanguage: string | null };

function headersOf(who: Who) {
  return { headers: { get: () => who.acceptLanguage } };
}

export async function oneClickUnsubscribe(
  db: Db,
  token: string,
  who: Who,
): Promise<OneClickOutcome> {
  const verified = verifyLinkTokenSync(token, "unsubscribe");
  if (!verified.ok) {
    // A genuine token (expired, or of another purpose) names its contact: its language.
    const sub = verified.reason === "invalid" ? null : (genuineClaims(token)?.sub ?? null);
    const hint = sub ? await contactLocaleHint(db, sub) : null;
    const locale = negotiateLocale(headersOf(who), hint);
    return { status: verified.reason === "expired" ? 410 : 400, reason: verified.reason, locale };
  }
  const claims = verified.claims;
  const contact = await loadContact(db, claims.sub);
  const locale = negotiateLocale(headersOf(who), contact?.locale);
  const at = await unsubscribeLinkAddress(db, claims, contact);
  if (!at) return { status: 400, reason: "invalid", locale };
  // A topic link whose topic was deleted since unsubscribes the whole channel (as the page does).
  const topic = claims.tp ? (await cachedTopics(db)).find((t) => t.key === claims.tp) : undefined;
  const res = await unsubscribeByLink(
    db,
    {
      channel: claims.ch,
      addressHash: at.addressHash,
      address: at.address,
      display: null,
      topic: topic ? { key: topic.key, name: topic.key } : null,
      done: false,
      channelUnsubscribed: false,
    },
    {
      contactId: contact?.id ?? claims.sub,
      campaign: claims.cp ?? null,
      ip: who.ip,
      userAgent: who.userAgent,
      source: "one_click",
      locale,
      notice: contact !== null,
    },
  );
  return { status: 200, changed: res.changed, locale };
}

// Text only (no attribute): <, > and & are all that need escaping.
const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The tiny answer: a minimal HTML document in the person's language (a mailbox provider ignores
 * it; a person who somehow sees it reads what happened), no script, no style, nothing to load.
 */
export function oneClickBody(outcome: OneClickOutcome): string {
  // A handful of documents (locales × outcomes), the same for everyone: made once each.
  const key =
    outcome.status === 200
      ? `${outcome.locale} ${outcome.changed ? "done" : "already"}`
      : `${outcome.locale} ${outcome.reason}`;
  let body = bodies.get(key);
  if (body === undefined) bodies.set(key, (body = renderBody(outcome)));
  return body;
}

const bodies = new Map<string, string>();

function renderBody(outcome: OneClickOutcome): string {
  const title =
    outcome.status === 200
      ? getFixedT(
          outcome.locale,
          "recipient",
        )(outcome.changed ? "unsubscribe.doneTitle" : "unsubscribe.alreadyTitle")
      : getFixedT(outcome.locale, "common")(`tokenError.${outcome.reason}.title`);
  const t = escapeHtml(title);
  return `<!doctype html><html lang="${outcome.locale}"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${t}</title><h1>${t}</h1></html>`;
}
