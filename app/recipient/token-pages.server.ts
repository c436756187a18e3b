import { ADDRESS_HASH_RE } from "~/consent/consent.server";
import { getDb } from "~/db/db.server";
import type { Locale } from "~/i18n/config";
import { formatDate, getFixedT, type HasHeaders } from "~/i18n/i18n.server";
import { signLinkTokenSync } from "~/links/tokens.server";
import { publicPageData, reasonOptions, resolveLinkToken } from "~/recipient/page.server";
import {
  choicesFor,
  loadChannels,
  loadContact,
  loadContactAndHashConsent,
  loadUnsubscribeTarget,
  topicsEditable,
  unsubscribeLinkAddress,
  type RecipientContact,
  type UnsubscribeTarget,
} from "~/recipient/recipient.server";

/**
 * What the two token pages show, read for a request: the routes' loaders (app/routes/u.$token.tsx,
 * p.$token.tsx) answer it as JSON, and the server's token-page path (app/server/token-pages.server.ts)
 * renders it without going through Remix. `ok: false` carries the refused link's answer (its
 * error page data, 400 or 410).
 */

/**
 * A page's title in a locale for an organization name, looked up through i18next once (the
 * strings are the build's own; the name is the operator's setting, so a new name is a new key).
 */
const titles = new Map<string, string>();
function pageTitle(
  locale: Locale,
  key: "meta.unsubscribe" | "meta.preferences",
  organization: string,
): string {
  const k = `${locale}\0${key}\0${organization}`;
  let title = titles.get(k);
  if (title === undefined) {
    if (titles.size >= 256) titles.clear();
    title = getFixedT(locale, "recipient")(key, { organization });
    titles.set(k, title);
  }
  return title;
}

/** The contact is null when it was deleted or erased: the link still works for its address. */
type Link = { contact: RecipientContact | null; target: UnsubscribeTarget };

export function resolveUnsubscribeLink(request: HasHeaders, token: string) {
  return resolveLinkToken<Link>(getDb(), request, token, "unsubscribe", {
    namespaces: ["recipient"],
    async load(claims, localeOf) {
      const db = getDb();
      // A link that names its address by hash (every link signed since tokens carry `ah`): the
      // contact and that address's state in one query. Older links: the contact first, then
      // the address it has (or had).
      const both =
        claims.ah && ADDRESS_HASH_RE.test(claims.ah)
          ? await loadContactAndHashConsent(db, claims.sub, claims.ch, claims.ah)
          : null;
      const contact = both ? both.contact : await loadContact(db, claims.sub);
      const at = await unsubscribeLinkAddress(db, claims, contact);
      if (!at) return null;
      const locale = localeOf(contact?.locale);
      const link = { channel: claims.ch, topic: claims.tp, ...at };
      const target = await loadUnsubscribeTarget(db, contact, link, locale, both?.consent);
      return target ? { contact, target, locale } : null;
    },
  });
}

export async function unsubscribePage(request: HasHeaders, token: string) {
  const r = await resolveUnsubscribeLink(request, token);
  if (!r.ok) return r;
  const db = getDb();
  const [page, reasons] = await Promise.all([
    publicPageData(db, r.locale, ["recipient"]),
    reasonOptions(db, r.locale),
  ]);
  // A deleted or erased contact has no preference page: "email me my link" instead.
  const preferencesUrl = r.contact
    ? `/p/${signLinkTokenSync({
        contactId: r.contact.id,
        channel: r.claims.ch,
        campaign: r.claims.cp,
        purpose: "preferences",
      })}`
    : "/manage";
  const title = pageTitle(r.locale, "meta.unsubscribe", page.branding.organizationName);
  const data = {
    ...page,
    title,
    target: {
      channel: r.target.channel,
      display: r.target.display,
      topic: r.target.topic?.name ?? null,
      done: r.target.done,
      channelUnsubscribed: r.target.channelUnsubscribed,
    },
    reasons,
    preferencesUrl,
  };
  return { ok: true as const, data };
}

export function resolvePreferencesLink(request: HasHeaders, token: string) {
  return resolveLinkToken<{ contact: RecipientContact }>(getDb(), request, token, "preferences", {
    namespaces: ["recipient"],
    async load(claims, localeOf) {
      const contact = await loadContact(getDb(), claims.sub);
      return contact ? { contact, locale: localeOf(contact.locale) } : null;
    },
  });
}

export async function preferencesPage(request: HasHeaders, token: string) {
  const r = await resolvePreferencesLink(request, token);
  if (!r.ok) return r;
  const db = getDb();
  const [page, channels, reasons] = await Promise.all([
    publicPageData(db, r.locale, ["recipient"]),
    loadChannels(db, r.contact, r.locale),
    reasonOptions(db, r.locale),
  ]);
  const title = pageTitle(r.locale, "meta.preferences", page.branding.organizationName);
  const data = {
    ...page,
    title,
    channels: channels.map((c) => ({
      channel: c.channel,
      display: c.display,
      state: c.state,
      pausedLabel: c.pausedUntil ? formatDate(r.locale, c.pausedUntil) : null,
      confirmationPending: c.confirmationPending,
      choices: choicesFor(c.state),
      topicsEditable: topicsEditable(c.state),
      topics: c.topics,
      frequency: c.frequency,
    })),
    reasons,
  };
  return { ok: true as const, data };
}
