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
import { LOCALE_NAMES } from "~/admin/ui/topic-form";
import { getDb } from "~/db/db.server";
import { LOCALES } from "~/i18n/config";
import { getFixedT } from "~/i18n/i18n.server";
import { NO_REASON_CODE } from "~/settings/reasons";
import { listReasons } from "~/settings/settings.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Unsubscribe reasons · Heed admin" }];

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
  return json({ reasons, builtIn }, { headers: NO_STORE });
}

const Move = z.object({ code: z.string().min(1).max(64), direction: z.enum(["up", "down"]) });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const db = getDb();
  const intent = text(formData, "intent");
  const code = text(formData, "code");
  try {
    if (intent === "move") {
      const parsed = parseForm(Move, Object.fromEntries(formData));
      if (!parsed.ok) return formError("Unknown reason or direction.");
      await moveReason(db, parsed.data.code, parsed.data.direction, by);
      return json({ ok: true as const, message: "Order saved.", code: parsed.data.code });
    }
    const fields = {
      code,
      labels: localizedFields(formData, "labels", LOCALES),
      enabled: checked(formData, "enabled"),
      freeText: checked(formData, "freeText"),
    };
    if (intent === "create") {
      const parsed = parseForm(NewReasonSchema, fields);
      if (!parsed.ok) return formError(parsed.message, { ...parsed.fieldErrors, form: "create" });
      await createReason(db, parsed.data, by);
      return json({ ok: true as const, message: `Reason “${parsed.data.code}” added.`, code });
    }
    if (intent === "save") {
      const parsed = parseForm(ReasonFieldsSchema, fields);
      if (!parsed.ok) return formError(parsed.message, { ...parsed.fieldErrors, form: code });
      await updateReason(db, code, parsed.data, by);
      return json({ ok: true as const, message: `Reason “${code}” saved.`, code });
    }
    return formError("Unknown action.");
  } catch (e) {
    if (e instanceof ReasonError)
      return formError(e.message, { code: e.message, form: intent === "create" ? "create" : code });
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
  return (
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
  return (
    <div>
      <PageHeader
        title="Unsubscribe reasons"
        description="What recipients can pick when they unsubscribe, in this order. An empty label shows Heed's built-in translation (in grey)."
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <ol className="space-y-4">
        {reasons.map((r, i) => (
          <li key={`${r.code}-${JSON.stringify(r.labels)}-${r.enabled}-${r.freeText}`}>
            <Section
              title={r.labels.en || builtIn[r.code]?.en || r.code}
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
                      aria-label={`Move ${r.code} up`}
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
                      aria-label={`Move ${r.code} down`}
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
                  Code: <code>{r.code}</code>
                </p>
                {r.code === NO_REASON_CODE ? (
                  <p className="text-sm text-slate-700">
                    Preselected on the unsubscribe and preference pages; choosing it records no
                    reason. When it is not shown, no reason is preselected.
                  </p>
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
                    Shown to recipients
                  </label>
                  {r.code === NO_REASON_CODE ? null : (
                    <label className="flex items-center gap-2 text-sm">
                      <input
                        type="checkbox"
                        name="freeText"
                        defaultChecked={r.freeText}
                        className="h-4 w-4"
                      />
                      With a free-text box
                    </label>
                  )}
                </div>
                <button type="submit" className={buttonClass.primary}>
                  Save
                </button>
              </Form>
            </Section>
          </li>
        ))}
      </ol>

      <Section title="Add a reason" id="new-reason">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div className="max-w-sm">
            <label htmlFor="new-code" className={labelClass}>
              Code
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
              Lower-case letters, digits and _; kept in the ledger and reports.
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
              Shown to recipients
            </label>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="freeText" className="h-4 w-4" />
              With a free-text box
            </label>
          </div>
          <button type="submit" className={buttonClass.primary}>
            Add reason
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
