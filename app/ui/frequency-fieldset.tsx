import { useT } from "~/i18n/react";
import { ui } from "~/ui/public-layout";

export type FrequencyChoice = { key: string; label: string; windowDays: number | null };

/**
 * "How often?" on the preference page (docs/recipient-pages.md): one radio per frequency option
 * the operator offers on this channel. The chosen one is checked; with none chosen yet, the
 * option without a limit ("every message") is. Sent as frequency.<channel>; saving records the
 * choice through the consent core only when it differs from the one checked on load.
 */
export function FrequencyFieldset({
  channel,
  options,
  selected,
}: {
  channel: string;
  options: readonly FrequencyChoice[];
  /** The chosen option, else the unlimited one (recipient.server.ts frequencyView). */
  selected: string | null;
}) {
  const t = useT("recipient");
  if (options.length === 0) return null;
  const checked = selected;
  const id = `ch-${channel}-frequency`;
  return (
    <fieldset className="mt-5 border-t border-slate-200 pt-4" data-testid={id}>
      <legend className="font-semibold text-slate-900">{t("preferences.frequencyLegend")}</legend>
      <p className="text-sm text-slate-600">{t("preferences.frequencyHint")}</p>
      <div className="mt-2 space-y-2">
        {options.map((o) => (
          <label key={o.key} htmlFor={`${id}-${o.key}`} className="flex items-center gap-3">
            <input
              id={`${id}-${o.key}`}
              type="radio"
              name={`frequency.${channel}`}
              value={o.key}
              defaultChecked={o.key === checked}
              className={ui.radio}
            />
            <span>{o.label}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
