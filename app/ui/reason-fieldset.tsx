import { useT } from "~/i18n/react";
import { NO_REASON_CODE } from "~/settings/reasons";
import { ui } from "~/ui/public-layout";

export type ReasonChoice = { code: string; label: string; freeText: boolean };

/**
 * The optional "why?" of an unsubscribe: one radio per reason the operator shows, in the
 * operator's order (Admin → Reasons). "I would rather not say" (NO_REASON_CODE) is one of them:
 * preselected and sent as no reason; when the operator hides it, nothing is preselected. The
 * free-text box opens when a reason that asks for it is picked — in CSS (`:has`), so it works
 * without JavaScript too (app/tailwind.css, `.reason-free-text`).
 */
export function ReasonFieldset({
  reasons,
  legend,
  textLabel,
  idPrefix = "reason",
  compact = false,
}: {
  reasons: readonly ReasonChoice[];
  legend: string;
  textLabel: string;
  idPrefix?: string;
  /** Without the "pick one if you like" line (the legend already says optional). */
  compact?: boolean;
}) {
  const t = useT("recipient");
  if (reasons.length === 0 || reasons.every((r) => r.code === NO_REASON_CODE)) return null;
  const hasFreeText = reasons.some((r) => r.freeText && r.code !== NO_REASON_CODE);
  return (
    <fieldset className="reason-fieldset space-y-2">
      <legend className="font-semibold text-slate-900">{legend}</legend>
      {compact ? null : <p className="text-sm text-slate-600">{t("reasonForm.hint")}</p>}
      <div className="space-y-1.5">
        {reasons.map((r) => {
          const none = r.code === NO_REASON_CODE;
          return (
            <label
              key={r.code}
              className="flex min-h-8 items-center gap-3"
              htmlFor={`${idPrefix}-${r.code}`}
            >
              <input
                id={`${idPrefix}-${r.code}`}
                type="radio"
                name="reason"
                value={none ? "" : r.code}
                defaultChecked={none}
                data-free-text={r.freeText && !none ? "" : undefined}
                className={ui.radio}
              />
              <span>{r.label}</span>
            </label>
          );
        })}
      </div>
      {hasFreeText ? (
        <div className="reason-free-text pt-1">
          <label htmlFor={`${idPrefix}-text`} className="block text-sm font-medium text-slate-900">
            {textLabel}
          </label>
          <textarea
            id={`${idPrefix}-text`}
            name="reasonText"
            rows={3}
            maxLength={1000}
            className={ui.input}
          />
        </div>
      ) : null}
    </fieldset>
  );
}
