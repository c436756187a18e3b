import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, localizedFields, parseForm, text } from "~/admin/forms.server";
import { localizeFailure, type MessageTable } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import {
  createFrequencyOption,
  deleteFrequencyOption,
  FrequencyFieldsSchema,
  FrequencyOptionError,
  listFrequencyOptions,
  NewFrequencySchema,
  updateFrequencyOption,
} from "~/admin/frequency.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { CHANNELS } from "~/db/schema";
import { NO_STORE } from "~/http/headers";
import { LOCALES } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "settings", "frequency.title", "Frequency options") },
];

/** FrequencyFieldsSchema's / NewFrequencySchema's English messages → `settings` keys. */
const FREQUENCY_MESSAGES: MessageTable = {
  "Use a whole number of days from 1 to 366.": "frequency.errors.window",
  "An English label is needed.": "frequency.errors.label_en",
  "Use lower-case letters, digits, - and _ (up to 64).": "frequency.errors.key",
};

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json(
    {
      options: await listFrequencyOptions(getDb()),
      i18n: i18nPayload(negotiateLocale(request), ["settings"]),
    },
    { headers: NO_STORE },
  );
}

const Target = z.object({ channel: z.enum(CHANNELS), key: z.string().min(1).max(64) });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const db = getDb();
  const t = getFixedT(negotiateLocale(request), "settings");
  const intent = text(formData, "intent");
  const target = Target.safeParse({
    channel: text(formData, "channel"),
    key: text(formData, "key"),
  });
  const fields = {
    labels: localizedFields(formData, "labels", LOCALES),
    windowDays: text(formData, "windowDays"),
  };
  const form = target.success ? `${target.data.channel}:${target.data.key}` : "create";
  try {
    if (intent === "create") {
      const input = { ...fields, channel: text(formData, "channel"), key: text(formData, "key") };
      const parsed = parseForm(NewFrequencySchema, input);
      if (!parsed.ok) {
        const failure = localizeFailure(t, parsed, FREQUENCY_MESSAGES, {
          channel: "frequency.errors.channel",
        });
        return formError(failure.message, { ...failure.fieldErrors, form: "create" });
      }
      await createFrequencyOption(db, { ...input, channel: parsed.data.channel }, by);
      return json({ ok: true as const, message: t("frequency.added", { key: parsed.data.key }) });
    }
    if (!target.success) return formError(t("frequency.unknown_option"));
    if (intent === "save") {
      const parsed = parseForm(FrequencyFieldsSchema, fields);
      if (!parsed.ok) {
        const failure = localizeFailure(t, parsed, FREQUENCY_MESSAGES);
        return formError(failure.message, { ...failure.fieldErrors, form });
      }
      await updateFrequencyOption(db, target.data.channel, target.data.key, fields, by);
      return json({ ok: true as const, message: t("frequency.saved", { key: target.data.key }) });
    }
    if (intent === "delete") {
      await deleteFrequencyOption(db, target.data.channel, target.data.key, by);
      return json({ ok: true as const, message: t("frequency.removed", { key: target.data.key }) });
    }
    return formError(t("form.unknown_action"));
  } catch (e) {
    if (e instanceof FrequencyOptionError) {
      const key = target.success ? target.data.key : text(formData, "key").trim();
      const message =
        e.code === "exists"
          ? t("frequency.errors.exists", {
              key,
              channel: getFixedT(
                negotiateLocale(request),
                "common",
              )(`channels.${text(formData, "channel")}`),
            })
          : t("frequency.errors.not_found", { key });
      return formError(message, { key: message, form });
    }
    throw e;
  }
}

function OptionFields({
  idPrefix,
  labels,
  windowDays,
  errors,
}: {
  idPrefix: string;
  labels: Record<string, string>;
  windowDays: number | null;
  errors: Record<string, string | undefined>;
}) {
  const t = useT("settings");
  return (
    <>
      <div className="max-w-xs">
        <label htmlFor={`${idPrefix}-window`} className={labelClass}>
          {t("frequency.window")}
        </label>
        <input
          id={`${idPrefix}-window`}
          name="windowDays"
          inputMode="numeric"
          pattern="[0-9]{0,3}"
          defaultValue={windowDays ?? ""}
          aria-describedby={`${idPrefix}-window-hint ${idPrefix}-window-error`}
          className={`mt-1 ${inputClass}`}
        />
        <p id={`${idPrefix}-window-hint`} className={hintClass}>
          {t("frequency.window_hint")}
        </p>
        <FieldError id={`${idPrefix}-window-error`} message={errors.windowDays} />
      </div>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        {LOCALES.map((l) => (
          <div key={l}>
            <label htmlFor={`${idPrefix}-${l}`} className={labelClass}>
              {t(`languages.${l}`)}
            </label>
            <input
              id={`${idPrefix}-${l}`}
              name={`labels.${l}`}
              lang={l}
              maxLength={200}
              required={l === "en"}
              defaultValue={labels[l] ?? ""}
              className={`mt-1 ${inputClass}`}
            />
          </div>
        ))}
      </div>
      <FieldError id={`${idPrefix}-labels-error`} message={errors.labels} />
    </>
  );
}

export default function FrequencyOptions() {
  const { options } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors: Record<string, string | undefined> =
    actionData && !actionData.ok ? (actionData.fieldErrors as Record<string, string>) : {};
  const errorsFor = (form: string) => (errors.form === form ? errors : {});
  const t = useT("settings");
  const tc = useT("common");
  return (
    <div>
      <PageHeader title={t("frequency.title")} description={t("frequency.description")} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      {CHANNELS.map((channel) => {
        const list = options.filter((o) => o.channel === channel);
        return (
          <Section key={channel} title={tc(`channels.${channel}`)} id={`frequency-${channel}`}>
            {list.length === 0 ? (
              <p className="text-sm text-slate-700">{t("frequency.none")}</p>
            ) : (
              <ol className="space-y-4">
                {list.map((o) => (
                  <li
                    key={`${o.key}-${JSON.stringify(o.labels)}-${o.windowDays}`}
                    className="rounded-lg border border-slate-200 p-3"
                  >
                    <Form method="post" className="space-y-3">
                      <CsrfInput />
                      <input type="hidden" name="intent" value="save" />
                      <input type="hidden" name="channel" value={channel} />
                      <input type="hidden" name="key" value={o.key} />
                      <p className="text-sm text-slate-700">
                        {t("frequency.key_label")} <code>{o.key}</code>
                      </p>
                      <OptionFields
                        idPrefix={`opt-${channel}-${o.key}`}
                        labels={o.labels}
                        windowDays={o.windowDays}
                        errors={errorsFor(`${channel}:${o.key}`)}
                      />
                      <button type="submit" className={buttonClass.primary}>
                        {t("frequency.save")}
                      </button>
                    </Form>
                    <Form method="post" className="mt-2">
                      <CsrfInput />
                      <input type="hidden" name="intent" value="delete" />
                      <input type="hidden" name="channel" value={channel} />
                      <input type="hidden" name="key" value={o.key} />
                      <button type="submit" className={buttonClass.secondary}>
                        {t("frequency.remove", { key: o.key })}
                      </button>
                      <p className={hintClass}>{t("frequency.remove_hint")}</p>
                    </Form>
                  </li>
                ))}
              </ol>
            )}
          </Section>
        );
      })}
      <Section title={t("frequency.add_title")} id="new-frequency">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div className="flex flex-wrap gap-4">
            <div>
              <label htmlFor="new-channel" className={labelClass}>
                {t("frequency.channel")}
              </label>
              <select id="new-channel" name="channel" className={`mt-1 ${inputClass}`}>
                {CHANNELS.map((c) => (
                  <option key={c} value={c}>
                    {tc(`channels.${c}`)}
                  </option>
                ))}
              </select>
            </div>
            <div className="max-w-sm">
              <label htmlFor="new-key" className={labelClass}>
                {t("frequency.key")}
              </label>
              <input
                id="new-key"
                name="key"
                required
                pattern="[a-z0-9][a-z0-9_\-]{0,63}"
                aria-describedby="new-key-hint new-key-error"
                className={`mt-1 ${inputClass}`}
              />
              <p id="new-key-hint" className={hintClass}>
                {t("frequency.key_hint")}
              </p>
              <FieldError id="new-key-error" message={errorsFor("create").key} />
            </div>
          </div>
          <OptionFields idPrefix="new" labels={{}} windowDays={null} errors={errorsFor("create")} />
          <button type="submit" className={buttonClass.primary}>
            {t("frequency.add")}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
