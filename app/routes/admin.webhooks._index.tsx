import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { registerWebhookEndpoint } from "~/admin/webhooks.server";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, parseForm, text } from "~/admin/forms.server";
import { URL_REASONS, WEBHOOK_DISABLED_REASONS } from "~/admin/integration-messages.server";
import { localizeFailure, localizeMessage } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
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
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { listWebhookEndpoints, WEBHOOK_EVENT_TYPES } from "~/webhooks/endpoints.server";
import { NO_STORE } from "~/http/headers";
import type { TFunction } from "~/i18n/i18n.shared";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "integrations", "webhooks.title", "Webhooks") },
];

/** Outbound webhook endpoints (docs/api.md): register a URL and event types; the secret is shown once. */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const env = getEnv();
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "integrations");
  return json(
    {
      endpoints: (await listWebhookEndpoints(getDb())).map((e) => ({
        ...e,
        disabledReason: e.disabledReason
          ? localizeMessage(t, e.disabledReason, WEBHOOK_DISABLED_REASONS)
          : null,
      })),
      eventTypes: WEBHOOK_EVENT_TYPES,
      requireHttps: env.isProduction,
      allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE,
      i18n: i18nPayload(locale, ["integrations"]),
    },
    { headers: NO_STORE },
  );
}

const createSchema = (t: TFunction) =>
  z.object({
    url: z
      .string()
      .trim()
      .min(1, t("webhooks.errors.url_empty"))
      .max(2000, t("webhooks.errors.url_long")),
    description: z
      .string()
      .trim()
      .max(200, t("webhooks.errors.description_long", { max: 200 })),
    eventTypes: z.array(z.string()).min(1, t("webhooks.errors.event_types")),
  });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "integrations");
  if (text(formData, "intent") !== "create") return formError(t("form.unknown_action"));
  const parsed = parseForm(createSchema(t), {
    url: text(formData, "url"),
    description: text(formData, "description"),
    eventTypes: formData.getAll("eventTypes").map(String),
  });
  if (!parsed.ok) {
    const failure = localizeFailure(t, parsed, {});
    return formError(failure.message, failure.fieldErrors);
  }
  const env = getEnv();
  const created = await registerWebhookEndpoint(
    getDb(),
    parsed.data,
    { allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE, requireHttps: env.isProduction },
    operator(user, request, context),
  );
  if (!created.ok) {
    return formError(t("form.correct_fields"), {
      [created.field]:
        created.field === "url"
          ? t("url.refused", { reason: localizeMessage(t, created.reason, URL_REASONS) })
          : localizeMessage(t, created.reason, {
              "choose at least one event type": "webhooks.errors.event_types",
              "unknown event type …": "webhooks.errors.unknown_event_type",
            }),
    });
  }
  return json({
    ok: true as const,
    message: t("webhooks.registered", { url: created.endpoint.url }),
    secret: created.secret,
    id: created.endpoint.id,
  });
}

export default function Webhooks() {
  const { endpoints, eventTypes, requireHttps, allowPrivate } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const t = useT("integrations");
  return (
    <div>
      <PageHeader title={t("webhooks.title")} description={t("webhooks.description")} />
      {actionData?.ok ? (
        <Notice kind="success">
          {actionData.message}{" "}
          <Link className={buttonClass.link} to={`/admin/webhooks/${actionData.id}`}>
            {t("webhooks.see_deliveries")}
          </Link>
        </Notice>
      ) : null}
      {actionData?.ok ? (
        <Notice kind="info">
          <span className="block font-medium">{t("webhooks.secret")}</span>
          <code
            data-testid="webhook-secret"
            className="mt-1 block select-all break-all rounded bg-white px-2 py-1 font-mono"
          >
            {actionData.secret}
          </code>
          <span className="mt-1 block">
            {t("webhooks.secret_hint_before")}{" "}
            <code>new Webhook(secret).verify(body, headers)</code> {t("webhooks.secret_hint_after")}
          </span>
        </Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <div className="relative mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{t("webhooks.caption")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("webhooks.col.endpoint")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("webhooks.col.events")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("webhooks.col.created")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("webhooks.col.state")}
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {endpoints.length === 0 ? (
              <tr>
                <td colSpan={4} className="px-3 py-4 text-slate-700">
                  {t("webhooks.none")}
                </td>
              </tr>
            ) : null}
            {endpoints.map((e) => (
              <tr key={e.id} className="align-top">
                <td className="px-3 py-2">
                  <Link className={`${buttonClass.link} break-all`} to={`/admin/webhooks/${e.id}`}>
                    {e.url}
                  </Link>
                  {e.description ? <div className="text-slate-700">{e.description}</div> : null}
                </td>
                <td className="px-3 py-2 text-xs">{e.eventTypes.join(", ")}</td>
                <td className="px-3 py-2 text-slate-700">
                  <Time value={e.createdAt} />
                </td>
                <td className="px-3 py-2">
                  <StatusBadge status={e.enabled ? "enabled" : "disabled"} />
                  {e.disabledReason ? (
                    <div className="mt-1 text-xs text-slate-700">{e.disabledReason}</div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Section title={t("webhooks.register_title")} id="create-webhook">
        <Form
          method="post"
          className="grid max-w-2xl gap-4"
          key={actionData?.ok ? actionData.id : "new"}
        >
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div>
            <label htmlFor="webhook-url" className={labelClass}>
              {t("webhooks.url")}
            </label>
            <input
              id="webhook-url"
              name="url"
              type="url"
              required
              placeholder="https://example.com/heed-events"
              autoComplete="off"
              aria-describedby="webhook-url-hint webhook-url-error"
              className={`mt-1 ${inputClass}`}
            />
            <p id="webhook-url-hint" className={hintClass}>
              {requireHttps ? `${t("webhooks.https_only")} ` : ""}
              {allowPrivate ? t("webhooks.private_allowed") : t("webhooks.private_refused")}
            </p>
            <FieldError id="webhook-url-error" message={errors.url} />
          </div>
          <div>
            <label htmlFor="webhook-description" className={labelClass}>
              {t("webhooks.description_label")}
            </label>
            <input
              id="webhook-description"
              name="description"
              maxLength={200}
              autoComplete="off"
              className={`mt-1 ${inputClass}`}
            />
          </div>
          <fieldset aria-describedby="webhook-events-error">
            <legend className={labelClass}>{t("webhooks.event_types")}</legend>
            <div className="mt-2 grid gap-2 sm:grid-cols-2">
              {eventTypes.map((type) => (
                <label key={type} className="flex items-center gap-2 text-sm text-slate-800">
                  <input
                    type="checkbox"
                    name="eventTypes"
                    value={type}
                    defaultChecked
                    className="h-4 w-4"
                  />
                  <span className="font-mono">{type}</span>
                </label>
              ))}
            </div>
            <FieldError id="webhook-events-error" message={errors.eventTypes} />
          </fieldset>
          <div>
            <button type="submit" className={buttonClass.primary}>
              {t("webhooks.register")}
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
