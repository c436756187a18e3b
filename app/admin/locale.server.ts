import { i18nPayload } from "~/i18n/i18n.server";
import type { I18nPayload } from "~/i18n/i18n.shared";
import type { Locale } from "~/i18n/config";
import { resources } from "~/i18n/resources";

/**
 * The strings every admin page shares (docs/admin-languages.md): the `admin` namespace, the ledger
 * source labels (`labels`) and, from `recipient`, only the reasons as recipients read them (the
 * rest of that namespace is the recipient pages'). The admin layout's loader returns it; pages
 * outside the layout (login, the subject export) return it themselves, with their own namespaces.
 */
export function adminI18nPayload(
  locale: Locale,
  namespaces: Parameters<typeof i18nPayload>[1] = [],
): I18nPayload {
  const payload = i18nPayload(locale, ["admin", "labels", ...namespaces]);
  if (!payload.resources.recipient) {
    payload.resources.recipient = { reasons: resources[locale].recipient.reasons };
  }
  return payload;
}
