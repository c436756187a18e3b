import type { TFunction } from "i18next";
import { localizeMessage, type MessageTable } from "~/admin/messages.server";

/**
 * English messages of the outbound URL check and of data sources (app/security/outbound.server.ts,
 * app/sources/) → keys of the `integrations` namespace, for the webhook and data source pages.
 * Messages not listed (those naming an address or a server's answer) are shown as they are.
 */

/** checkOutboundUrl's fixed reasons. */
export const URL_REASONS: MessageTable = {
  "not a valid URL": "url.invalid",
  "must be an https:// URL": "url.https",
  "must be an http(s):// URL": "url.http",
  "must not contain a user name or password": "url.credentials",
  "must not contain a #fragment": "url.fragment",
  "is too long": "url.too_long",
};

/** SourceFormSchema, MappingFormSchema and the checks of app/sources/sources.server.ts. */
export const SOURCE_MESSAGES: MessageTable = {
  "Enter a name.": "sources.errors.name",
  "At most 100 characters.": "sources.errors.name_long",
  "Enter the URL.": "sources.errors.url",
  "The URL is too long.": "sources.errors.url_long",
  "Choose CSV, JSON or XML.": "sources.errors.format",
  "Choose hourly, daily or weekly.": "sources.errors.schedule",
  "Choose a channel.": "sources.errors.channel",
  "Choose how to authorize.": "sources.errors.auth_type",
  "At most 200 characters.": "sources.errors.auth_name_long",
  "At most 4,000 characters.": "sources.errors.secret_long",
  "Choose the field that holds the addresses.": "sources.errors.address_field",
  "Choose the field that names each record's channel, or give the source one channel.":
    "sources.errors.channel_field",
  "Enter the password, token or header value.": "sources.errors.secret",
  "The secret cannot contain line breaks.": "sources.errors.secret_lines",
  "Enter the user name (without a colon).": "sources.errors.user_name",
  "Enter a header name such as X-Api-Key (letters, digits and dashes).":
    "sources.errors.header_name",
  "Another source has this name.": "sources.errors.name_taken",
};

/** What a fetch or a read of a source said (a preview's failure, a run's error), where known. */
export const SOURCE_FETCH_MESSAGES: MessageTable = {
  "The server answered …": "sources.fetch.answered",
  "The request failed: …": "sources.fetch.failed",
  "The answer is empty.": "sources.fetch.empty",
  "The file is empty: it has no rows.": "sources.fetch.no_rows",
  "The JSON document holds no list of records (an array).": "sources.fetch.no_json_list",
  "The XML document holds no repeated elements to read as records.": "sources.fetch.no_xml_list",
};

/**
 * A data source message in the admin's language: "This URL cannot be used: it must be …" and
 * "The URL must be …" with the reason translated where known, then the tables above.
 */
export function localizeSourceMessage(t: TFunction, message: string): string {
  for (const prefix of ["This URL cannot be used: it ", "The URL "]) {
    if (message.startsWith(prefix)) {
      const reason = message.slice(prefix.length).replace(/\.$/, "");
      return t("url.refused", { reason: localizeMessage(t, reason, URL_REASONS) });
    }
  }
  return localizeMessage(t, message, { ...SOURCE_MESSAGES, ...SOURCE_FETCH_MESSAGES });
}

/** Why an endpoint was disabled (stored in English: app/admin/webhooks.server.ts, app/webhooks/transport.server.ts). */
export const WEBHOOK_DISABLED_REASONS: MessageTable = {
  "disabled by …": "webhook.disabled_reason.by",
  "the endpoint answered 410 Gone": "webhook.disabled_reason.gone",
  "every delivery failed for the whole retry schedule …": "webhook.disabled_reason.failed",
};
