import type { FormFailure } from "~/admin/forms.server";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import type { TFunction } from "~/i18n/i18n.shared";
import type { Locale } from "~/i18n/config";
import { PASSWORD_MIN } from "~/admin/users.server";
import { NOTE_MAX } from "~/contacts/notes";

/**
 * Server messages of the admin area in the operator's language (docs/admin-languages.md). The
 * domain functions and form schemas keep their English text (the API, the CLI and the logs read
 * it); a route translates what it shows: a known English message maps to `admin:messages.<key>`,
 * anything else is shown as it is.
 */
const MESSAGE_KEYS: Record<string, string> = {
  "Please correct the fields marked below.": "correctFields",
  [`Use at least ${PASSWORD_MIN} characters.`]: "passwordMin",
  "Use at most 1024 characters.": "passwordMax",
  "Enter a valid email address.": "validEmail",
  "Pick a role.": "pickRole",
  "Unknown user.": "unknownUser",
  "Enter your current password.": "currentPassword",
  "The two new passwords differ.": "passwordsDiffer",
  "Bad request: the form could not be read.": "formUnreadable",
  "Write a note: why, and on whose request.": "noteRequired",
  [`At most ${NOTE_MAX} characters.`]: "noteMax",
  "Tick the box to confirm.": "tickToConfirm",
  "Pick a topic.": "pickTopic",
  "Pick off or on.": "pickOffOn",
  "Pick how long.": "pickHowLong",
  "Pick email or SMS.": "pickEmailOrSms",
  "You do not have permission to do this.": "noPermission",
  "Give the key a name.": "keyName",
  "At most 200 characters.": "max200",
  "Choose at least one scope.": "pickScope",
  "Unknown key.": "unknownKey",
};

/** `t` of the admin namespace in the request's language. */
export function adminT(request: Request): TFunction {
  return getFixedT(negotiateLocale(request), "admin");
}

/** A message in the admin's language when it is a known one, else unchanged. */
export function translateMessage(t: TFunction, message: string): string {
  const key = MESSAGE_KEYS[message];
  return key ? t(`messages.${key}`, { min: PASSWORD_MIN, max: NOTE_MAX }) : message;
}

/** A form failure (parseForm) with its message and field errors translated. */
export function translateFailure(t: TFunction, failure: FormFailure): FormFailure {
  return {
    ok: false,
    message: translateMessage(t, failure.message),
    fieldErrors: Object.fromEntries(
      Object.entries(failure.fieldErrors).map(([k, v]) => [k, translateMessage(t, v)]),
    ),
  };
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
