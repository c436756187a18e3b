import type { TFunction } from "i18next";
import type { FieldErrors, FormFailure } from "~/admin/forms.server";

/**
 * Validation and notice messages of admin settings pages in the operator's language. The domain
 * functions and their zod schemas keep their English messages (the API, the CLI and the logs read
 * them); a page maps each message it knows to a key of its namespace, and leaves any other one as
 * it is. `table` is English message → translation key; an entry ending in "…" matches a message
 * that starts with the rest, and passes what follows as {{detail}}.
 */
export type MessageTable = Readonly<Record<string, string>>;

function lookup(t: TFunction, message: string, table: MessageTable): string | null {
  const key = table[message];
  if (key) return t(key);
  for (const [english, k] of Object.entries(table)) {
    if (!english.endsWith("…")) continue;
    const prefix = english.slice(0, -1);
    if (message.startsWith(prefix)) {
      return t(k, { detail: message.slice(prefix.length).replace(/\.$/, "") });
    }
  }
  return null;
}

/** The message translated when the table knows it; otherwise as it is. */
export function localizeMessage(t: TFunction, message: string, table: MessageTable): string {
  return lookup(t, message, table) ?? message;
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
): FieldErrors {
  return Object.fromEntries(
    Object.entries(fieldErrors).map(([field, message]) => {
      const fallback = byField[field];
      return [field, lookup(t, message, table) ?? (fallback ? t(fallback) : message)];
    }),
  );
}

/** parseForm's failure with its general message and its field messages translated. */
export function localizeFailure(
  t: TFunction,
  failure: FormFailure,
  table: MessageTable,
  byField: MessageTable = {},
): FormFailure {
  return {
    ok: false,
    message: localizeMessage(t, failure.message, {
      "Please correct the fields marked below.": "form.correct_fields",
    }),
    fieldErrors: localizeFieldErrors(t, failure.fieldErrors, table, byField),
  };
}
