import { Form } from "@remix-run/react";
import { buttonClass, FieldError, hintClass, inputClass, labelClass } from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { useConsentLabels } from "~/admin/ui/labels";
import { useT } from "~/i18n/react";

export const LOCALE_NAMES: Record<string, string> = {
  en: "English",
  pl: "Polish",
  pt: "Portuguese",
  cs: "Czech",
  de: "German",
  es: "Spanish",
  fr: "French",
};
const LOCALES = Object.keys(LOCALE_NAMES);
const CHANNELS = [
  { value: "email", label: "Email" },
  { value: "sms", label: "SMS" },
  { value: "whatsapp", label: "WhatsApp" },
];

export type TopicFormValues = {
  key?: string;
  names: Record<string, string>;
  descriptions: Record<string, string>;
  channels: string[];
  defaultOptIn: boolean;
  position: number;
};

/** The create / edit form of a topic (plain POST; works without JavaScript). */
export function TopicForm({
  mode,
  values,
  errors,
}: {
  mode: "create" | "edit";
  values: TopicFormValues;
  errors: Record<string, string>;
}) {
  const t = useT("admin");
  const labels = useConsentLabels();
  const language = (l: string) => t(`languageNames.${l}`, { defaultValue: LOCALE_NAMES[l] });
  return (
    <Form method="post" className="space-y-5">
      <CsrfInput />
      <input type="hidden" name="intent" value="save" />
      {mode === "create" ? (
        <div className="max-w-sm">
          <label htmlFor="topic-key" className={labelClass}>
            {t("topicForm.key")}
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
            {t("topicForm.keyHintBefore")} <code>newsletter</code>
            {t("topicForm.keyHintAfter")}
          </p>
          <FieldError id="topic-key-error" message={errors.key} />
        </div>
      ) : null}

      <fieldset>
        <legend className="text-sm font-semibold text-slate-900">
          {t("topicForm.perLanguage")}
        </legend>
        <p className={hintClass}>{t("topicForm.englishRequired")}</p>
        <FieldError id="topic-names-error" message={errors.names ?? errors["names.en"]} />
        <div className="mt-3 grid gap-4 md:grid-cols-2">
          {LOCALES.map((l) => (
            <div key={l} className="rounded-md border border-slate-200 p-3">
              <label htmlFor={`names-${l}`} className={labelClass}>
                {t("topicForm.name", { language: language(l) })}
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
                {t("topicForm.description", { language: language(l) })}
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
        <legend className="text-sm font-semibold text-slate-900">{t("topicForm.channels")}</legend>
        <div className="mt-2 flex flex-wrap gap-4">
          {CHANNELS.map((c) => (
            <label key={c.value} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                name="channels"
                value={c.value}
                defaultChecked={values.channels.includes(c.value)}
                className="h-4 w-4"
              />
              {labels.channel(c.value)}
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
            {t("topicForm.defaultOptIn")}
          </label>
          <p className={hintClass}>{t("topicForm.defaultOptInHint")}</p>
        </div>
        <div className="w-32">
          <label htmlFor="topic-position" className={labelClass}>
            {t("topicForm.order")}
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
        {mode === "create" ? t("topicForm.create") : t("topicForm.save")}
      </button>
    </Form>
  );
}
