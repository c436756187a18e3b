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
import csSuppressions from "./locales/cs/suppressions.json";
import deSuppressions from "./locales/de/suppressions.json";
import enSuppressions from "./locales/en/suppressions.json";
import esSuppressions from "./locales/es/suppressions.json";
import frSuppressions from "./locales/fr/suppressions.json";
import plSuppressions from "./locales/pl/suppressions.json";
import ptSuppressions from "./locales/pt/suppressions.json";
import csBranding from "./locales/cs/branding.json";
import deBranding from "./locales/de/branding.json";
import enBranding from "./locales/en/branding.json";
import esBranding from "./locales/es/branding.json";
import frBranding from "./locales/fr/branding.json";
import plBranding from "./locales/pl/branding.json";
import ptBranding from "./locales/pt/branding.json";
import csAdmin from "./locales/cs/admin.json";
import deAdmin from "./locales/de/admin.json";
import enAdmin from "./locales/en/admin.json";
import esAdmin from "./locales/es/admin.json";
import frAdmin from "./locales/fr/admin.json";
import plAdmin from "./locales/pl/admin.json";
import ptAdmin from "./locales/pt/admin.json";
import csReports from "./locales/cs/reports.json";
import deReports from "./locales/de/reports.json";
import enReports from "./locales/en/reports.json";
import esReports from "./locales/es/reports.json";
import frReports from "./locales/fr/reports.json";
import plReports from "./locales/pl/reports.json";
import ptReports from "./locales/pt/reports.json";
import csAudit from "./locales/cs/audit.json";
import deAudit from "./locales/de/audit.json";
import enAudit from "./locales/en/audit.json";
import esAudit from "./locales/es/audit.json";
import frAudit from "./locales/fr/audit.json";
import plAudit from "./locales/pl/audit.json";
import ptAudit from "./locales/pt/audit.json";
import csOutbox from "./locales/cs/outbox.json";
import deOutbox from "./locales/de/outbox.json";
import enOutbox from "./locales/en/outbox.json";
import esOutbox from "./locales/es/outbox.json";
import frOutbox from "./locales/fr/outbox.json";
import plOutbox from "./locales/pl/outbox.json";
import ptOutbox from "./locales/pt/outbox.json";
import csExports from "./locales/cs/exports.json";
import deExports from "./locales/de/exports.json";
import enExports from "./locales/en/exports.json";
import esExports from "./locales/es/exports.json";
import frExports from "./locales/fr/exports.json";
import plExports from "./locales/pl/exports.json";
import ptExports from "./locales/pt/exports.json";
import csSmsreview from "./locales/cs/smsreview.json";
import deSmsreview from "./locales/de/smsreview.json";
import enSmsreview from "./locales/en/smsreview.json";
import esSmsreview from "./locales/es/smsreview.json";
import frSmsreview from "./locales/fr/smsreview.json";
import plSmsreview from "./locales/pl/smsreview.json";
import ptSmsreview from "./locales/pt/smsreview.json";
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
    suppressions: enSuppressions,
    branding: enBranding,
    admin: enAdmin,
    reports: enReports,
    audit: enAudit,
    outbox: enOutbox,
    exports: enExports,
    smsreview: enSmsreview,
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
    suppressions: plSuppressions,
    branding: plBranding,
    admin: plAdmin,
    reports: plReports,
    audit: plAudit,
    outbox: plOutbox,
    exports: plExports,
    smsreview: plSmsreview,
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
    suppressions: ptSuppressions,
    branding: ptBranding,
    admin: ptAdmin,
    reports: ptReports,
    audit: ptAudit,
    outbox: ptOutbox,
    exports: ptExports,
    smsreview: ptSmsreview,
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
    suppressions: csSuppressions,
    branding: csBranding,
    admin: csAdmin,
    reports: csReports,
    audit: csAudit,
    outbox: csOutbox,
    exports: csExports,
    smsreview: csSmsreview,
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
    suppressions: deSuppressions,
    branding: deBranding,
    admin: deAdmin,
    reports: deReports,
    audit: deAudit,
    outbox: deOutbox,
    exports: deExports,
    smsreview: deSmsreview,
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
    suppressions: esSuppressions,
    branding: esBranding,
    admin: esAdmin,
    reports: esReports,
    audit: esAudit,
    outbox: esOutbox,
    exports: esExports,
    smsreview: esSmsreview,
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
    suppressions: frSuppressions,
    branding: frBranding,
    admin: frAdmin,
    reports: frReports,
    audit: frAudit,
    outbox: frOutbox,
    exports: frExports,
    smsreview: frSmsreview,
    settings: frSettings,
    integrations: frIntegrations,
  },
} satisfies Record<Locale, Record<string, unknown>>;

export type Namespace = keyof (typeof resources)["en"];
