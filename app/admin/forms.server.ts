import { json } from "@remix-run/node";
import type { z } from "zod";

/** Form parsing for admin actions: one zod schema per form; errors go back to the form (never a 500). */

export type FieldErrors = Record<string, string>;
export type FormFailure = { ok: false; message: string; fieldErrors: FieldErrors };

export function fieldErrorsOf(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join(".") || "_form";
    out[key] ??= issue.message;
  }
  return out;
}

export function parseForm<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; data: z.infer<S> } | FormFailure {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data };
  const fieldErrors = fieldErrorsOf(parsed.error);
  return { ok: false, message: "Please correct the fields marked below.", fieldErrors };
}

/** A form error answer: status 400 (or the given one), for useActionData. */
export function formError(message: string, fieldErrors: FieldErrors = {}, status = 400) {
  return json({ ok: false as const, message, fieldErrors }, { status });
}

/**
 * A form error that gives back what was typed (status 400), for forms that show saved values:
 * the page puts `values` back in the fields.
 */
export function formErrorWithValues<V>(message: string, fieldErrors: FieldErrors, values: V) {
  return json({ ok: false as const, message, fieldErrors, values }, { status: 400 });
}

/** The value of a text field ("" when missing). */
export function text(formData: FormData, name: string): string {
  const v = formData.get(name);
  return typeof v === "string" ? v : "";
}

/** A checkbox: present → true. */
export function checked(formData: FormData, name: string): boolean {
  return formData.get(name) !== null;
}

/** Fields named `${prefix}.${locale}` as a record. */
export function localizedFields(formData: FormData, prefix: string, locales: readonly string[]) {
  return Object.fromEntries(locales.map((l) => [l, text(formData, `${prefix}.${l}`)]));
}
