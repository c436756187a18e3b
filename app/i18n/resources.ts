/**
 * Every translation, by locale and namespace: app/i18n/locales/<locale>/<namespace>.json.
 * Each feature owns its namespace file(s); add a namespace by importing it for every locale here.
 * A test checks that every key of every namespace exists in every locale.
 */
import csCommon from "./locales/cs/common.json";
import deCommon from "./locales/de/common.json";
import enCommon from "./locales/en/common.json";
import esCommon from "./locales/es/common.json";
import frCommon from "./locales/fr/common.json";
import plCommon from "./locales/pl/common.json";
import ptCommon from "./locales/pt/common.json";
import csMail from "./locales/cs/mail.json";
import deMail from "./locales/de/mail.json";
import enMail from "./locales/en/mail.json";
import esMail from "./locales/es/mail.json";
import frMail from "./locales/fr/mail.json";
import plMail from "./locales/pl/mail.json";
import ptMail from "./locales/pt/mail.json";
import csRecipient from "./locales/cs/recipient.json";
import deRecipient from "./locales/de/recipient.json";
import enRecipient from "./locales/en/recipient.json";
import esRecipient from "./locales/es/recipient.json";
import frRecipient from "./locales/fr/recipient.json";
import plRecipient from "./locales/pl/recipient.json";
import ptRecipient from "./locales/pt/recipient.json";
import csSms from "./locales/cs/sms.json";
import deSms from "./locales/de/sms.json";
import enSms from "./locales/en/sms.json";
import esSms from "./locales/es/sms.json";
import frSms from "./locales/fr/sms.json";
import plSms from "./locales/pl/sms.json";
import ptSms from "./locales/pt/sms.json";
import csConfirm from "./locales/cs/confirm.json";
import deConfirm from "./locales/de/confirm.json";
import enConfirm from "./locales/en/confirm.json";
import esConfirm from "./locales/es/confirm.json";
import frConfirm from "./locales/fr/confirm.json";
import plConfirm from "./locales/pl/confirm.json";
import ptConfirm from "./locales/pt/confirm.json";
import csManage from "./locales/cs/manage.json";
import deManage from "./locales/de/manage.json";
import enManage from "./locales/en/manage.json";
import esManage from "./locales/es/manage.json";
import frManage from "./locales/fr/manage.json";
import plManage from "./locales/pl/manage.json";
import ptManage from "./locales/pt/manage.json";
import csLabels from "./locales/cs/labels.json";
import deLabels from "./locales/de/labels.json";
import enLabels from "./locales/en/labels.json";
import esLabels from "./locales/es/labels.json";
import frLabels from "./locales/fr/labels.json";
import plLabels from "./locales/pl/labels.json";
import ptLabels from "./locales/pt/labels.json";
import csImports from "./locales/cs/imports.json";
import deImports from "./locales/de/imports.json";
import enImports from "./locales/en/imports.json";
import esImports from "./locales/es/imports.json";
import frImports from "./locales/fr/imports.json";
import plImports from "./locales/pl/imports.json";
import ptImports from "./locales/pt/imports.json";
import csAccess from "./locales/cs/access.json";
import deAccess from "./locales/de/access.json";
import enAccess from "./locales/en/access.json";
import esAccess from "./locales/es/access.json";
import frAccess from "./locales/fr/access.json";
import plAccess from "./locales/pl/access.json";
import ptAccess from "./locales/pt/access.json";
import csSettings from "./locales/cs/settings.json";
import deSettings from "./locales/de/settings.json";
import enSettings from "./locales/en/settings.json";
import esSettings from "./locales/es/settings.json";
import frSettings from "./locales/fr/settings.json";
import plSettings from "./locales/pl/settings.json";
import ptSettings from "./locales/pt/settings.json";
import csIntegrations from "./locales/cs/integrations.json";
import deIntegrations from "./locales/de/integrations.json";
import enIntegrations from "./locales/en/integrations.json";
import esIntegrations from "./locales/es/integrations.json";
import frIntegrations from "./locales/fr/integrations.json";
import plIntegrations from "./locales/pl/integrations.json";
import ptIntegrations from "./locales/pt/integrations.json";
import type { Locale } from "./config";

export const resources = {
  en: {
    common: enCommon,
    mail: enMail,
    recipient: enRecipient,
    sms: enSms,
    confirm: enConfirm,
    manage: enManage,
    labels: enLabels,
    imports: enImports,
    access: enAccess,
    settings: enSettings,
    integrations: enIntegrations,
  },
  pl: {
    common: plCommon,
    mail: plMail,
    recipient: plRecipient,
    sms: plSms,
    confirm: plConfirm,
    manage: plManage,
    labels: plLabels,
    imports: plImports,
    access: plAccess,
    settings: plSettings,
    integrations: plIntegrations,
  },
  pt: {
    common: ptCommon,
    mail: ptMail,
    recipient: ptRecipient,
    sms: ptSms,
    confirm: ptConfirm,
    manage: ptManage,
    labels: ptLabels,
    imports: ptImports,
    access: ptAccess,
    settings: ptSettings,
    integrations: ptIntegrations,
  },
  cs: {
    common: csCommon,
    mail: csMail,
    recipient: csRecipient,
    sms: csSms,
    confirm: csConfirm,
    manage: csManage,
    labels: csLabels,
    imports: csImports,
    access: csAccess,
    settings: csSettings,
    integrations: csIntegrations,
  },
  de: {
    common: deCommon,
    mail: deMail,
    recipient: deRecipient,
    sms: deSms,
    confirm: deConfirm,
    manage: deManage,
    labels: deLabels,
    imports: deImports,
    access: deAccess,
    settings: deSettings,
    integrations: deIntegrations,
  },
  es: {
    common: esCommon,
    mail: esMail,
    recipient: esRecipient,
    sms: esSms,
    confirm: esConfirm,
    manage: esManage,
    labels: esLabels,
    imports: esImports,
    access: esAccess,
    settings: esSettings,
    integrations: esIntegrations,
  },
  fr: {
    common: frCommon,
    mail: frMail,
    recipient: frRecipient,
    sms: frSms,
    confirm: frConfirm,
    manage: frManage,
    labels: frLabels,
    imports: frImports,
    access: frAccess,
    settings: frSettings,
    integrations: frIntegrations,
  },
} satisfies Record<Locale, Record<string, unknown>>;

export type Namespace = keyof (typeof resources)["en"];
