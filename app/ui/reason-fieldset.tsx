import { useT } from "~/i18n/react";
import { ui } from "~/ui/public-layout";

export type ReasonChoice = { code: string; label: string; freeText: boolean };

/**
 * The optional "why?" of an unsubscribe: one radio per reason the operator enabled (none picked
 * by default) and a free-text box for "other" (visible without JavaScript).
 */
export function ReasonFieldset({
  reasons,
  legend,
  textLabel,
  idPrefix = "reason",
}: {
  reasons: readonly ReasonChoice[];
  legend: string;
  textLabel: string;
  idPrefix?: string;
}) {
  const t = useT("recipient");
  if (reasons.length === 0) return null;
  const hasFreeText = reasons.some((r) => r.freeText);
  return (
    <fieldset className="space-y-3">
      <legend className="font-semibold text-slate-900">{legend}</legend>
      <p className="text-sm text-slate-600">{t("reasonForm.hint")}</p>
      <div className="space-y-2">
        <label className="flex items-center gap-3" htmlFor={`${idPrefix}-none`}>
          <input
            id={`${idPrefix}-none`}
            type="radio"
            name="reason"
            value=""
            defaultChecked
            className={ui.radio}
          />
          <span>{t("reasonForm.none")}</span>
        </label>
        {reasons.map((r) => (
          <label key={r.code} className="flex items-center gap-3" htmlFor={`${idPrefix}-${r.code}`}>
            <input
              id={`${idPrefix}-${r.code}`}
              type="radio"
              name="reason"
              value={r.code}
              className={ui.radio}
            />
            <span>{r.label}</span>
          </label>
        ))}
      </div>
      {hasFreeText ? (
        <div>
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
