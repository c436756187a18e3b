import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { checked, formError, localizedFields, parseForm, text } from "~/admin/forms.server";
import { localizeFailure, type MessageTable } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import {
  createReason,
  moveReason,
  NewReasonSchema,
  ReasonError,
  ReasonFieldsSchema,
  updateReason,
} from "~/admin/reasons.server";
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
  StatusBadge,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { LOCALES } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { NO_REASON_CODE } from "~/settings/reasons";
import { listReasons } from "~/settings/settings.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "settings", "reasons.title", "Unsubscribe reasons") },
];

/** NewReasonSchema's English messages → `settings` keys. */
const REASON_MESSAGES: MessageTable = {
  "Use lower-case letters, digits and _ (up to 64).": "reasons.errors.code",
};

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const reasons = await listReasons(getDb(), { includeDisabled: true });
  // Heed's own translation of each code, shown where the operator has not set a label.
  const builtIn = Object.fromEntries(
    reasons.map((r) => [
      r.code,
      Object.fromEntries(
        LOCALES.map((l) => {
          const key = `reasons.${r.code}`;
          const text = getFixedT(l, "recipient")(key, { defaultValue: "" });
          return [l, text === key ? "" : text];
        }),
      ),
    ]),
  );
  return json(
    { reasons, builtIn, i18n: i18nPayload(negotiateLocale(request), ["settings"]) },
    { headers: NO_STORE },
  );
}

const Move = z.object({ code: z.string().min(1).max(64), direction: z.enum(["up", "down"]) });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const db = getDb();
  const t = getFixedT(negotiateLocale(request), "settings");
  const intent = text(formData, "intent");
  const code = text(formData, "code");
  try {
    if (intent === "move") {
      const parsed = parseForm(Move, Object.fromEntries(formData));
      if (!parsed.ok) return formError(t("reasons.unknown_move"));
      await moveReason(db, parsed.data.code, parsed.data.direction, by);
      return json({ ok: true as const, message: t("reasons.order_saved"), code: parsed.data.code });
    }
    const fields = {
      code,
      labels: localizedFields(formData, "labels", LOCALES),
      enabled: checked(formData, "enabled"),
      freeText: checked(formData, "freeText"),
    };
    if (intent === "create") {
      const parsed = parseForm(NewReasonSchema, fields);
      if (!parsed.ok) {
        const failure = localizeFailure(t, parsed, REASON_MESSAGES);
        return formError(failure.message, { ...failure.fieldErrors, form: "create" });
      }
      await createReason(db, parsed.data, by);
      return json({
        ok: true as const,
        message: t("reasons.added", { code: parsed.data.code }),
        code,
      });
    }
    if (intent === "save") {
      const parsed = parseForm(ReasonFieldsSchema, fields);
      if (!parsed.ok) {
        const failure = localizeFailure(t, parsed, REASON_MESSAGES);
        return formError(failure.message, { ...failure.fieldErrors, form: code });
      }
      await updateReason(db, code, parsed.data, by);
      return json({ ok: true as const, message: t("reasons.saved", { code }), code });
    }
    return formError(t("form.unknown_action"));
  } catch (e) {
    if (e instanceof ReasonError) {
      const message =
        e.code === "exists"
          ? t("reasons.errors.exists", { code: code.trim() })
          : t("reasons.errors.not_found", { code });
      return formError(message, { code: message, form: intent === "create" ? "create" : code });
    }
    throw e;
  }
}

function LabelInputs({
  idPrefix,
  labels,
  placeholders = {},
}: {
  idPrefix: string;
  labels: Record<string, string>;
  placeholders?: Record<string, string>;
}) {
  const t = useT("settings");
  return (
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
            defaultValue={labels[l] ?? ""}
            placeholder={placeholders[l] || undefined}
            className={`mt-1 ${inputClass}`}
          />
        </div>
      ))}
    </div>
  );
}

export default function Reasons() {
  const { reasons, builtIn } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const t = useT("settings");
  const locale = useLocale();
  return (
    <div>
      <PageHeader title={t("reasons.title")} description={t("reasons.description")} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <ol className="space-y-4">
        {reasons.map((r, i) => (
          <li key={`${r.code}-${JSON.stringify(r.labels)}-${r.enabled}-${r.freeText}`}>
            <Section
              title={
                r.labels[locale] ||
                builtIn[r.code]?.[locale] ||
                r.labels.en ||
                builtIn[r.code]?.en ||
                r.code
              }
              id={`reason-${r.code}`}
              actions={
                <div className="flex items-center gap-2">
                  <StatusBadge status={r.enabled ? "enabled" : "disabled"} />
                  <Form method="post" className="inline">
                    <CsrfInput />
                    <input type="hidden" name="intent" value="move" />
                    <input type="hidden" name="code" value={r.code} />
                    <input type="hidden" name="direction" value="up" />
                    <button
                      type="submit"
                      className={buttonClass.secondary}
                      disabled={i === 0}
                      aria-label={t("reasons.move_up", { code: r.code })}
                    >
                      ↑
                    </button>
                  </Form>
                  <Form method="post" className="inline">
                    <CsrfInput />
                    <input type="hidden" name="intent" value="move" />
                    <input type="hidden" name="code" value={r.code} />
                    <input type="hidden" name="direction" value="down" />
                    <button
                      type="submit"
                      className={buttonClass.secondary}
                      disabled={i === reasons.length - 1}
                      aria-label={t("reasons.move_down", { code: r.code })}
                    >
                      ↓
                    </button>
                  </Form>
                </div>
              }
            >
              <Form method="post" className="space-y-3">
                <CsrfInput />
                <input type="hidden" name="intent" value="save" />
                <input type="hidden" name="code" value={r.code} />
                <p className="text-sm text-slate-700">
                  {t("reasons.code_label")} <code>{r.code}</code>
                </p>
                {r.code === NO_REASON_CODE ? (
                  <p className="text-sm text-slate-700">{t("reasons.no_reason_hint")}</p>
                ) : null}
                <LabelInputs
                  idPrefix={`labels-${r.code}`}
                  labels={r.labels}
                  placeholders={builtIn[r.code]}
                />
                <div className="flex flex-wrap gap-6">
                  <label className="flex items-center gap-2 text-sm">
                    <input
                      type="checkbox"
                      name="enabled"
                      defaultChecked={r.enabled}
                      className="h-4 w-4"
                    />
                    {t("reasons.enabled")}
                  </label>
                  {r.code === NO_REASON_CODE ? null : (
                    <label className="flex items-center gap-2 text-sm">
                      <input
                        type="checkbox"
                        name="freeText"
                        defaultChecked={r.freeText}
                        className="h-4 w-4"
                      />
                      {t("reasons.free_text")}
                    </label>
                  )}
                </div>
                <button type="submit" className={buttonClass.primary}>
                  {t("reasons.save")}
                </button>
              </Form>
            </Section>
          </li>
        ))}
      </ol>

      <Section title={t("reasons.add_title")} id="new-reason">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div className="max-w-sm">
            <label htmlFor="new-code" className={labelClass}>
              {t("reasons.code")}
            </label>
            <input
              id="new-code"
              name="code"
              required
              pattern="[a-z0-9_]{1,64}"
              aria-describedby="new-code-hint new-code-error"
              className={`mt-1 ${inputClass}`}
            />
            <p id="new-code-hint" className={hintClass}>
              {t("reasons.code_hint")}
            </p>
            <FieldError
              id="new-code-error"
              message={errors.form === "create" ? errors.code : null}
            />
          </div>
          <LabelInputs idPrefix="new-labels" labels={{}} />
          <div className="flex flex-wrap gap-6">
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="enabled" defaultChecked className="h-4 w-4" />
              {t("reasons.enabled")}
            </label>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="freeText" className="h-4 w-4" />
              {t("reasons.free_text")}
            </label>
          </div>
          <button type="submit" className={buttonClass.primary}>
            {t("reasons.add")}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
