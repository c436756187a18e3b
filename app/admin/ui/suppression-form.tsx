import { Form } from "@remix-run/react";
import type { ReactNode } from "react";
import { CsrfInput } from "~/admin/ui/layout";
import { buttonClass, FieldError, inputClass, labelClass } from "~/admin/ui/components";
import { NOTE_MAX } from "~/contacts/notes";
import { useT } from "~/i18n/react";

/**
 * The suppress and "remove suppression" forms of the admin area (a contact's page and the
 * address lookup): which channels, and the note the ledger keeps. Their action calls
 * changeSuppression (app/contacts/suppressions.server.ts).
 */
export function SuppressionForm({
  intent,
  scopes,
  defaultScope,
  address,
  errors,
  version,
  children,
}: {
  intent: "suppress" | "unsuppress";
  /** The choices of the channel select, in order. */
  scopes: { value: string; label: string }[];
  defaultScope?: string;
  /** Shows the address field with this value (forms that are not about one contact). */
  address?: string;
  errors: Record<string, string>;
  /** Changes after each saved change, so the form starts empty again. */
  version: string;
  /** A line above the fields. */
  children?: ReactNode;
}) {
  const t = useT("admin");
  const id = (s: string) => `${intent}-${s}`;
  return (
    <Form method="post" className="space-y-3" key={version}>
      <CsrfInput />
      <input type="hidden" name="intent" value={intent} />
      {children}
      {address !== undefined ? (
        <div>
          <label htmlFor={id("address")} className={labelClass}>
            {t("suppressionForm.address")}
          </label>
          <input
            id={id("address")}
            name="address"
            required
            defaultValue={address}
            maxLength={320}
            autoComplete="off"
            aria-describedby={id("address-error")}
            className={`mt-1 ${inputClass}`}
          />
          <FieldError id={id("address-error")} message={errors.address} />
        </div>
      ) : null}
      <div>
        <label htmlFor={id("scope")} className={labelClass}>
          {t("suppressionForm.channel")}
        </label>
        <select
          id={id("scope")}
          name="scope"
          defaultValue={defaultScope}
          className={`mt-1 ${inputClass}`}
        >
          {scopes.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
        <FieldError id={id("scope-error")} message={errors.scope} />
      </div>
      <div>
        <label htmlFor={id("note")} className={labelClass}>
          {t("suppressionForm.note")}
        </label>
        <textarea
          id={id("note")}
          name="note"
          required
          rows={2}
          maxLength={NOTE_MAX}
          aria-describedby={id("note-error")}
          className={`mt-1 ${inputClass}`}
          placeholder={
            intent === "suppress"
              ? t("suppressionForm.suppressPlaceholder")
              : t("suppressionForm.unsuppressPlaceholder")
          }
        />
        <FieldError id={id("note-error")} message={errors.note} />
      </div>
      <button
        type="submit"
        className={intent === "suppress" ? buttonClass.danger : buttonClass.primary}
      >
        {intent === "suppress" ? t("suppressionForm.suppress") : t("suppressionForm.unsuppress")}
      </button>
    </Form>
  );
}
