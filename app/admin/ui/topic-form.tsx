import { Form } from "@remix-run/react";
import { buttonClass, FieldError, hintClass, inputClass, labelClass } from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { LOCALES } from "~/i18n/config";
import { useT } from "~/i18n/react";

const CHANNELS = ["email", "sms", "whatsapp"] as const;

export type TopicFormValues = {
  key?: string;
  names: Record<string, string>;
  descriptions: Record<string, string>;
  channels: string[];
  defaultOptIn: boolean;
  position: number;
};

/**
 * The create / edit form of a topic (plain POST; works without JavaScript), in the admin's
 * language (the `settings` namespace: the topic pages' loaders return it).
 */
export function TopicForm({
  mode,
  values,
  errors,
}: {
  mode: "create" | "edit";
  values: TopicFormValues;
  errors: Record<string, string>;
}) {
  const t = useT("settings");
  const tc = useT("common");
  return (
    <Form method="post" className="space-y-5">
      <CsrfInput />
      <input type="hidden" name="intent" value="save" />
      {mode === "create" ? (
        <div className="max-w-sm">
          <label htmlFor="topic-key" className={labelClass}>
            {t("topic_form.key")}
          </label>
          <input
            id="topic-key"
            name="key"
            required
            defaultValue={values.key ?? ""}
            pattern="[a-z0-9][a-z0-9_\-]{0,63}"
            aria-describedby="topic-key-hint topic-key-error"
            className={`mt-1 ${inputClass}`}
          />
          <p id="topic-key-hint" className={hintClass}>
            {t("topic_form.key_hint_before")} <code>newsletter</code>.{" "}
            {t("topic_form.key_hint_after")}
          </p>
          <FieldError id="topic-key-error" message={errors.key} />
        </div>
      ) : null}

      <fieldset>
        <legend className="text-sm font-semibold text-slate-900">
          {t("topic_form.names_legend")}
        </legend>
        <p className={hintClass}>{t("topic_form.names_hint")}</p>
        <FieldError id="topic-names-error" message={errors.names ?? errors["names.en"]} />
        <div className="mt-3 grid gap-4 md:grid-cols-2">
          {LOCALES.map((l) => (
            <div key={l} className="rounded-md border border-slate-200 p-3">
              <label htmlFor={`names-${l}`} className={labelClass}>
                {t("topic_form.name_in", { language: t(`languages.${l}`) })}
              </label>
              <input
                id={`names-${l}`}
                name={`names.${l}`}
                lang={l}
                required={l === "en"}
                maxLength={120}
                defaultValue={values.names[l] ?? ""}
                className={`mt-1 ${inputClass}`}
              />
              <label htmlFor={`descriptions-${l}`} className={`mt-2 ${labelClass}`}>
                {t("topic_form.description_in", { language: t(`languages.${l}`) })}
              </label>
              <textarea
                id={`descriptions-${l}`}
                name={`descriptions.${l}`}
                lang={l}
                rows={2}
                maxLength={500}
                defaultValue={values.descriptions[l] ?? ""}
                className={`mt-1 ${inputClass}`}
              />
            </div>
          ))}
        </div>
      </fieldset>

      <fieldset>
        <legend className="text-sm font-semibold text-slate-900">
          {t("topic_form.channels_legend")}
        </legend>
        <div className="mt-2 flex flex-wrap gap-4">
          {CHANNELS.map((c) => (
            <label key={c} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                name="channels"
                value={c}
                defaultChecked={values.channels.includes(c)}
                className="h-4 w-4"
              />
              {tc(`channels.${c}`)}
            </label>
          ))}
        </div>
        <FieldError id="topic-channels-error" message={errors.channels} />
      </fieldset>

      <div className="flex flex-wrap items-start gap-6">
        <div>
          <label className="flex items-center gap-2 text-sm font-medium">
            <input
              type="checkbox"
              name="defaultOptIn"
              value="on"
              defaultChecked={values.defaultOptIn}
              className="h-4 w-4"
            />
            {t("topic_form.default_opt_in")}
          </label>
          <p className={hintClass}>{t("topic_form.default_opt_in_hint")}</p>
        </div>
        <div className="w-32">
          <label htmlFor="topic-position" className={labelClass}>
            {t("topic_form.order")}
          </label>
          <input
            id="topic-position"
            name="position"
            type="number"
            step={1}
            defaultValue={values.position}
            aria-describedby="topic-position-error"
            className={`mt-1 ${inputClass}`}
          />
          <FieldError id="topic-position-error" message={errors.position} />
        </div>
      </div>

      <button type="submit" className={buttonClass.primary}>
        {mode === "create" ? t("topic_form.create") : t("topic_form.save")}
      </button>
    </Form>
  );
}
