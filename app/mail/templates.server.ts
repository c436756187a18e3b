import crypto from "node:crypto";
import { DEFAULT_LOCALE, type Locale } from "~/i18n/config";
import { formatDate, getFixedT, toLocale } from "~/i18n/i18n.server";
import { resources } from "~/i18n/resources";
import type { Branding } from "~/settings/settings.server";
import { LAYOUT_VERSION, renderHtml, renderText, type EmailContent } from "./layout.server";

/**
 * Transactional messages Heed sends itself, rendered when they are queued (so the outbox holds
 * exactly what goes out, and its hash is evidence of what a person confirmed). Localized in every
 * page language, branded, with no marketing in them and no List-Unsubscribe header.
 */
export type EmailTemplate = "confirm" | "preferences" | "unsubscribed";
export type SmsTemplate = "sms.confirm" | "sms.preferences";

export type RenderedEmail = {
  to: string;
  subject: string;
  html: string;
  text: string;
  template: EmailTemplate;
  templateVersion: string;
  locale: Locale;
};

export type RenderedSms = {
  body: string;
  template: SmsTemplate;
  templateVersion: string;
  locale: Locale;
};

export function mailLocale(...candidates: (string | null | undefined)[]): Locale {
  for (const c of candidates) {
    const l = toLocale(c);
    if (l) return l;
  }
  return DEFAULT_LOCALE;
}

const versionCache = new Map<string, string>();

/**
 * `confirm/v1/pl/3f2a9c1e`: the template, the layout's version, the locale and a hash of the
 * strings used, so that a change of wording yields a new version without anyone remembering to
 * bump a number.
 */
export function templateVersion(template: EmailTemplate | SmsTemplate, locale: Locale): string {
  const key = `${template}:${locale}`;
  let v = versionCache.get(key);
  if (!v) {
    const strings = resources[locale].mail;
    const used =
      template === "sms.confirm"
        ? strings.sms
        : template === "sms.preferences"
          ? strings.smsPreferences
          : { common: strings.common, template: strings[template] };
    const digest = crypto.createHash("sha256").update(JSON.stringify(used)).digest("hex");
    v = `${template}/v${LAYOUT_VERSION}/${locale}/${digest.slice(0, 8)}`;
    versionCache.set(key, v);
  }
  return v;
}

/** SHA-256 of what was sent (subject, text and HTML; or the SMS body): kept as evidence. */
export function messageHash(message: {
  subject?: string;
  text?: string;
  html?: string;
  body?: string;
}): string {
  const canonical = JSON.stringify([
    message.subject ?? null,
    message.text ?? null,
    message.html ?? null,
    message.body ?? null,
  ]);
  return `sha256:${crypto.createHash("sha256").update(canonical).digest("hex")}`;
}

function frame(
  locale: Locale,
  branding: Branding,
  to: string,
  parts: Pick<EmailContent, "subject" | "preheader" | "blocks" | "fallbackUrl">,
): EmailContent {
  const t = getFixedT(locale, "mail");
  const org = branding.organizationName;
  const footer = [t("common.footer", { org, address: to })];
  if (branding.supportEmail) footer.push(t("common.support", { email: branding.supportEmail }));
  return {
    locale,
    ...parts,
    footer,
    privacy: branding.privacyPolicyUrl
      ? { label: t("common.privacy"), url: branding.privacyPolicyUrl }
      : undefined,
  };
}

function finish(
  template: EmailTemplate,
  locale: Locale,
  branding: Branding,
  to: string,
  content: EmailContent,
): RenderedEmail {
  return {
    to,
    subject: content.subject,
    html: renderHtml(content, branding),
    text: renderText(content, branding),
    template,
    templateVersion: templateVersion(template, locale),
    locale,
  };
}

/**
 * The double opt-in confirmation (docs/consent.md, rule 5): a link to /c/{token}, valid until
 * expiresAt. `firstSignup`: the address never was subscribed (a sign-up), so nothing says "again".
 */
export function renderConfirmEmail(input: {
  locale: Locale;
  branding: Branding;
  to: string;
  url: string;
  expiresAt: Date;
  topicNames?: string[];
  firstSignup?: boolean;
}): RenderedEmail {
  const { locale, branding, to, url } = input;
  const t = getFixedT(locale, "mail");
  const org = branding.organizationName;
  const blocks: EmailContent["blocks"] = [
    { type: "heading", text: t("confirm.heading") },
    {
      type: "paragraph",
      text: t(input.firstSignup ? "confirm.introSignup" : "confirm.intro", { org, address: to }),
    },
  ];
  if (input.topicNames && input.topicNames.length > 0) {
    const list = new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(
      input.topicNames,
    );
    blocks.push({ type: "paragraph", text: t("confirm.topics", { topics: list }) });
  }
  blocks.push(
    { type: "button", text: t("confirm.button"), url },
    {
      type: "paragraph",
      text: t("confirm.expires", { date: formatDate(locale, input.expiresAt) }),
      muted: true,
    },
    { type: "paragraph", text: t("confirm.ignore"), muted: true },
  );
  const content = frame(locale, branding, to, {
    subject: t("confirm.subject", { org }),
    preheader: t(input.firstSignup ? "confirm.preheaderSignup" : "confirm.preheader", { org }),
    blocks,
    fallbackUrl: { label: t("common.linkFallback"), url },
  });
  return finish("confirm", locale, branding, to, content);
}

/** "Here is your preferences link" (/manage). */
export function renderPreferencesEmail(input: {
  locale: Locale;
  branding: Branding;
  to: string;
  url: string;
}): RenderedEmail {
  const { locale, branding, to, url } = input;
  const t = getFixedT(locale, "mail");
  const org = branding.organizationName;
  const content = frame(locale, branding, to, {
    subject: t("preferences.subject", { org }),
    preheader: t("preferences.preheader", { org }),
    blocks: [
      { type: "heading", text: t("preferences.heading") },
      { type: "paragraph", text: t("preferences.intro", { org }) },
      { type: "button", text: t("preferences.button"), url },
      { type: "paragraph", text: t("preferences.personal"), muted: true },
      { type: "paragraph", text: t("preferences.ignore"), muted: true },
    ],
    fallbackUrl: { label: t("common.linkFallback"), url },
  });
  return finish("preferences", locale, branding, to, content);
}

/** "Here is your preferences link" by SMS (/manage with a phone number): one short message. */
export function renderPreferencesSms(input: {
  locale: Locale;
  branding: Branding;
  url: string;
}): RenderedSms {
  const t = getFixedT(input.locale, "mail");
  return {
    body: t("smsPreferences.body", { org: input.branding.organizationName, url: input.url }),
    template: "sms.preferences",
    templateVersion: templateVersion("sms.preferences", input.locale),
    locale: input.locale,
  };
}

/** "You have been unsubscribed" (optional, per the mail settings). */
export function renderUnsubscribedEmail(input: {
  locale: Locale;
  branding: Branding;
  to: string;
  url: string;
}): RenderedEmail {
  const { locale, branding, to, url } = input;
  const t = getFixedT(locale, "mail");
  const org = branding.organizationName;
  const content = frame(locale, branding, to, {
    subject: t("unsubscribed.subject", { org }),
    preheader: t("unsubscribed.preheader", { org }),
    blocks: [
      { type: "heading", text: t("unsubscribed.heading") },
      { type: "paragraph", text: t("unsubscribed.intro", { org, address: to }) },
      { type: "paragraph", text: t("unsubscribed.mistake") },
      { type: "button", text: t("unsubscribed.button"), url },
    ],
    fallbackUrl: { label: t("common.linkFallback"), url },
  });
  return finish("unsubscribed", locale, branding, to, content);
}

/** The SMS/WhatsApp double opt-in confirmation, with a short link ("again" only if it is one). */
export function renderConfirmSms(input: {
  locale: Locale;
  branding: Branding;
  url: string;
  firstSignup?: boolean;
}): RenderedSms {
  const t = getFixedT(input.locale, "mail");
  return {
    body: t(input.firstSignup ? "sms.confirmSignup" : "sms.confirm", {
      org: input.branding.organizationName,
      url: input.url,
    }),
    template: "sms.confirm",
    templateVersion: templateVersion("sms.confirm", input.locale),
    locale: input.locale,
  };
}
