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
import { LOCALE_NAMES } from "~/admin/ui/topic-form";
import { getDb } from "~/db/db.server";
import { CHANNELS } from "~/db/schema";
import { NO_STORE } from "~/http/headers";
import { LOCALES } from "~/i18n/config";

export const meta: MetaFunction = () => [{ title: "Frequency options · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json({ options: await listFrequencyOptions(getDb()) }, { headers: NO_STORE });
}

const Target = z.object({ channel: z.enum(CHANNELS), key: z.string().min(1).max(64) });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const db = getDb();
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
      if (!parsed.ok) return formError(parsed.message, { ...parsed.fieldErrors, form: "create" });
      await createFrequencyOption(db, { ...input, channel: parsed.data.channel }, by);
      return json({ ok: true as const, message: `Option “${parsed.data.key}” added.` });
    }
    if (!target.success) return formError("Unknown option.");
    if (intent === "save") {
      const parsed = parseForm(FrequencyFieldsSchema, fields);
      if (!parsed.ok) return formError(parsed.message, { ...parsed.fieldErrors, form });
      await updateFrequencyOption(db, target.data.channel, target.data.key, fields, by);
      return json({ ok: true as const, message: `Option “${target.data.key}” saved.` });
    }
    if (intent === "delete") {
      await deleteFrequencyOption(db, target.data.channel, target.data.key, by);
      return json({ ok: true as const, message: `Option “${target.data.key}” removed.` });
    }
    return formError("Unknown action.");
  } catch (e) {
    if (e instanceof FrequencyOptionError) return formError(e.message, { key: e.message, form });
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
  return (
    <>
      <div className="max-w-xs">
        <label htmlFor={`${idPrefix}-window`} className={labelClass}>
          At most one message every … days
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
          Empty: every message. 7: at most weekly; 30: at most monthly.
        </p>
        <FieldError id={`${idPrefix}-window-error`} message={errors.windowDays} />
      </div>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        {LOCALES.map((l) => (
          <div key={l}>
            <label htmlFor={`${idPrefix}-${l}`} className={labelClass}>
              {LOCALE_NAMES[l]}
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
  return (
    <div>
      <PageHeader
        title="Frequency options"
        description="How often recipients may ask to hear from you, per channel. The preference page and the API offer these; a choice is recorded in the consent ledger, and POST /api/v1/check with record answers frequency_capped inside the chosen window. A label left empty shows the English one."
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      {CHANNELS.map((channel) => {
        const list = options.filter((o) => o.channel === channel);
        return (
          <Section
            key={channel}
            title={channel === "sms" ? "SMS" : channel === "email" ? "Email" : "WhatsApp"}
            id={`frequency-${channel}`}
          >
            {list.length === 0 ? (
              <p className="text-sm text-slate-700">
                No options: the preference page shows no frequency choice on this channel.
              </p>
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
                        Key: <code>{o.key}</code>
                      </p>
                      <OptionFields
                        idPrefix={`opt-${channel}-${o.key}`}
                        labels={o.labels}
                        windowDays={o.windowDays}
                        errors={errorsFor(`${channel}:${o.key}`)}
                      />
                      <button type="submit" className={buttonClass.primary}>
                        Save
                      </button>
                    </Form>
                    <Form method="post" className="mt-2">
                      <CsrfInput />
                      <input type="hidden" name="intent" value="delete" />
                      <input type="hidden" name="channel" value={channel} />
                      <input type="hidden" name="key" value={o.key} />
                      <button type="submit" className={buttonClass.secondary}>
                        Remove “{o.key}”
                      </button>
                      <p className={hintClass}>People who chose it keep the window they chose.</p>
                    </Form>
                  </li>
                ))}
              </ol>
            )}
          </Section>
        );
      })}
      <Section title="Add an option" id="new-frequency">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div className="flex flex-wrap gap-4">
            <div>
              <label htmlFor="new-channel" className={labelClass}>
                Channel
              </label>
              <select id="new-channel" name="channel" className={`mt-1 ${inputClass}`}>
                {CHANNELS.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </div>
            <div className="max-w-sm">
              <label htmlFor="new-key" className={labelClass}>
                Key
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
                e.g. weekly; kept in the ledger and the API.
              </p>
              <FieldError id="new-key-error" message={errorsFor("create").key} />
            </div>
          </div>
          <OptionFields idPrefix="new" labels={{}} windowDays={null} errors={errorsFor("create")} />
          <button type="submit" className={buttonClass.primary}>
            Add option
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
