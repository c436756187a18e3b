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

export const meta: MetaFunction = () => [{ title: "Webhooks · Heed admin" }];

/** Outbound webhook endpoints (docs/api.md): register a URL and event types; the secret is shown once. */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const env = getEnv();
  return json(
    {
      endpoints: await listWebhookEndpoints(getDb()),
      eventTypes: WEBHOOK_EVENT_TYPES,
      requireHttps: env.isProduction,
      allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE,
    },
    { headers: NO_STORE },
  );
}

const CreateSchema = z.object({
  url: z.string().trim().min(1, "Enter the endpoint's URL.").max(2000, "The URL is too long."),
  description: z.string().trim().max(200, "At most 200 characters."),
  eventTypes: z.array(z.string()).min(1, "Choose at least one event type."),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  if (text(formData, "intent") !== "create") return formError("Unknown action.");
  const parsed = parseForm(CreateSchema, {
    url: text(formData, "url"),
    description: text(formData, "description"),
    eventTypes: formData.getAll("eventTypes").map(String),
  });
  if (!parsed.ok) return formError(parsed.message, parsed.fieldErrors);
  const env = getEnv();
  const created = await registerWebhookEndpoint(
    getDb(),
    parsed.data,
    { allowPrivate: env.WEBHOOKS_ALLOW_PRIVATE, requireHttps: env.isProduction },
    operator(user, request, context),
  );
  if (!created.ok) {
    return formError("Please correct the fields marked below.", {
      [created.field]:
        created.field === "url" ? `This URL cannot be used: ${created.reason}.` : created.reason,
    });
  }
  return json({
    ok: true as const,
    message: `Registered ${created.endpoint.url}.`,
    secret: created.secret,
    id: created.endpoint.id,
  });
}

export default function Webhooks() {
  const { endpoints, eventTypes, requireHttps, allowPrivate } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  return (
    <div>
      <PageHeader
        title="Webhooks"
        description="Heed posts every consent change to these endpoints, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), and retries failures for about three days (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), honouring Retry-After. An endpoint that answers 410 Gone, or fails for the whole schedule, is disabled and the admins get an email."
      />
      {actionData?.ok ? (
        <Notice kind="success">
          {actionData.message}{" "}
          <Link className={buttonClass.link} to={`/admin/webhooks/${actionData.id}`}>
            See its deliveries
          </Link>
        </Notice>
      ) : null}
      {actionData?.ok ? (
        <Notice kind="info">
          <span className="block font-medium">Signing secret (shown only now):</span>
          <code
            data-testid="webhook-secret"
            className="mt-1 block select-all break-all rounded bg-white px-2 py-1 font-mono"
          >
            {actionData.secret}
          </code>
          <span className="mt-1 block">
            Verify deliveries with it, e.g. <code>new Webhook(secret).verify(body, headers)</code>{" "}
            from the standardwebhooks library.
          </span>
        </Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <div className="relative mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">Webhook endpoints</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                Endpoint
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Events
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Created
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                State
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {endpoints.length === 0 ? (
              <tr>
                <td colSpan={4} className="px-3 py-4 text-slate-700">
                  No endpoints yet.
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

      <Section title="Register an endpoint" id="create-webhook">
        <Form
          method="post"
          className="grid max-w-2xl gap-4"
          key={actionData?.ok ? actionData.id : "new"}
        >
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div>
            <label htmlFor="webhook-url" className={labelClass}>
              URL
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
              {requireHttps ? "Must be https://. " : ""}
              {allowPrivate
                ? "Private and loopback addresses are allowed (WEBHOOKS_ALLOW_PRIVATE)."
                : "Addresses that resolve to private, loopback or link-local networks are refused."}
            </p>
            <FieldError id="webhook-url-error" message={errors.url} />
          </div>
          <div>
            <label htmlFor="webhook-description" className={labelClass}>
              Description (optional)
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
            <legend className={labelClass}>Event types</legend>
            <div className="mt-2 grid gap-2 sm:grid-cols-2">
              {eventTypes.map((t) => (
                <label key={t} className="flex items-center gap-2 text-sm text-slate-800">
                  <input
                    type="checkbox"
                    name="eventTypes"
                    value={t}
                    defaultChecked
                    className="h-4 w-4"
                  />
                  <span className="font-mono">{t}</span>
                </label>
              ))}
            </div>
            <FieldError id="webhook-events-error" message={errors.eventTypes} />
          </fieldset>
          <div>
            <button type="submit" className={buttonClass.primary}>
              Register endpoint
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
