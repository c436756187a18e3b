import type { FieldErrors, FormFailure } from "~/admin/forms.server";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import type { TFunction } from "~/i18n/i18n.shared";
import type { Locale } from "~/i18n/config";
import { PASSWORD_MIN } from "~/admin/users.server";
import { NOTE_MAX } from "~/contacts/notes";

/**
 * Server messages of the admin area in the operator's language (docs/admin-languages.md). The
 * domain functions and their zod schemas keep their English text (the API, the CLI and the logs
 * read it); a route translates what it shows. A page maps each English message it knows to a key
 * of the namespace its `t` reads (a `MessageTable`), and shows any other message as it is.
 *
 * In a table, an entry ending in "…" matches a message that starts with the rest, and passes what
 * follows as {{detail}}. The general "Please correct the fields marked below." goes to the
 * table's own entry for it, else to `form.correct_fields` (the settings and integrations
 * namespaces).
 */
export type MessageTable = Readonly<Record<string, string>>;

const CORRECT_FIELDS = "Please correct the fields marked below.";

function lookup(
  t: TFunction,
  message: string,
  table: MessageTable,
  params: Record<string, unknown> = {},
): string | null {
  const key = table[message];
  if (key) return t(key, params);
  for (const [english, k] of Object.entries(table)) {
    if (!english.endsWith("…")) continue;
    const prefix = english.slice(0, -1);
    if (message.startsWith(prefix)) {
      return t(k, { ...params, detail: message.slice(prefix.length).replace(/\.$/, "") });
    }
  }
  return null;
}

/** The message translated when the table knows it; otherwise as it is. */
export function localizeMessage(
  t: TFunction,
  message: string,
  table: MessageTable,
  params?: Record<string, unknown>,
): string {
  return lookup(t, message, table, params) ?? message;
}

/**
 * Each field's message translated; `byField` (field → key) covers a field whose messages are
 * zod's own (e.g. "Too big: expected number to be <=100000"), which the table cannot list.
 */
export function localizeFieldErrors(
  t: TFunction,
  fieldErrors: FieldErrors,
  table: MessageTable,
  byField: MessageTable = {},
  params?: Record<string, unknown>,
): FieldErrors {
  return Object.fromEntries(
    Object.entries(fieldErrors).map(([field, message]) => {
      const fallback = byField[field];
      return [field, lookup(t, message, table, params) ?? (fallback ? t(fallback) : message)];
    }),
  );
}

/** parseForm's failure with its general message and its field messages translated. */
export function localizeFailure(
  t: TFunction,
  failure: FormFailure,
  table: MessageTable,
  byField: MessageTable = {},
  params?: Record<string, unknown>,
): FormFailure {
  return {
    ok: false,
    message: localizeMessage(
      t,
      failure.message,
      { [CORRECT_FIELDS]: table[CORRECT_FIELDS] ?? "form.correct_fields", ...table },
      params,
    ),
    fieldErrors: localizeFieldErrors(t, failure.fieldErrors, table, byField, params),
  };
}

/** The messages of the account, users, API keys and contact pages: the `admin` namespace. */
const ADMIN_MESSAGES: MessageTable = {
  [CORRECT_FIELDS]: "messages.correctFields",
  [`Use at least ${PASSWORD_MIN} characters.`]: "messages.passwordMin",
  "Use at most 1024 characters.": "messages.passwordMax",
  "Enter a valid email address.": "messages.validEmail",
  "Pick a role.": "messages.pickRole",
  "Unknown user.": "messages.unknownUser",
  "Enter your current password.": "messages.currentPassword",
  "The two new passwords differ.": "messages.passwordsDiffer",
  "Bad request: the form could not be read.": "messages.formUnreadable",
  "Write a note: why, and on whose request.": "messages.noteRequired",
  [`At most ${NOTE_MAX} characters.`]: "messages.noteMax",
  "Tick the box to confirm.": "messages.tickToConfirm",
  "Pick a topic.": "messages.pickTopic",
  "Pick off or on.": "messages.pickOffOn",
  "Pick how long.": "messages.pickHowLong",
  "Pick email or SMS.": "messages.pickEmailOrSms",
  "You do not have permission to do this.": "messages.noPermission",
  "Give the key a name.": "messages.keyName",
  "At most 200 characters.": "messages.max200",
  "Choose at least one scope.": "messages.pickScope",
  "Unknown key.": "messages.unknownKey",
};
const ADMIN_PARAMS = { min: PASSWORD_MIN, max: NOTE_MAX };

/** `t` of the admin namespace in the request's language. */
export function adminT(request: Request): TFunction {
  return getFixedT(negotiateLocale(request), "admin");
}

/** A message of the `admin` namespace's table in the admin's language, else unchanged. */
export function translateMessage(t: TFunction, message: string): string {
  return localizeMessage(t, message, ADMIN_MESSAGES, ADMIN_PARAMS);
}

/** A form failure (parseForm) of the `admin` namespace's pages, translated. */
export function translateFailure(t: TFunction, failure: FormFailure): FormFailure {
  return localizeFailure(t, failure, ADMIN_MESSAGES, {}, ADMIN_PARAMS);
}

/**
 * A ConsentError (or any error from app/consent and app/contacts) as the admin reads it: English
 * keeps the domain's own message (it names the detail); other languages get
 * `admin:consentErrors.<code>` (a missing country code has its own).
 */
export function consentErrorMessage(
  locale: Locale,
  error: { code: string; message: string; details?: Record<string, unknown> },
): string {
  if (locale === "en") return error.message;
  const t = getFixedT(locale, "admin");
  if (error.details?.reason === "missing_country_code") {
    return t("consentErrors.missing_country_code");
  }
  return t(`consentErrors.${error.code}`, { defaultValue: error.message });
}
