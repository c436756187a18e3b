import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import {
  deleteWebhookEndpointAudited,
  retryAllWebhookDeliveries,
  retryWebhookDelivery,
  setWebhookEndpointEnabledAudited,
} from "~/admin/webhooks.server";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, text } from "~/admin/forms.server";
import { WEBHOOK_DISABLED_REASONS } from "~/admin/integration-messages.server";
import { localizeMessage } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Pager,
  Section,
  StatusBadge,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_MS } from "~/webhooks/retry-schedule";
import { getWebhookEndpoint, listWebhookDeliveries } from "~/webhooks/endpoints.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";
import type { Locale } from "~/i18n/config";
import type { TFunction } from "~/i18n/i18n.shared";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "integrations", "webhook.title", "Webhook endpoint") },
];

const PAGE = 50;

function notFound(locale: Locale): Response {
  return new Response(getFixedT(locale, "integrations")("webhook.not_found"), { status: 404 });
}

/**
 * The retry schedule in the admin's language, e.g. "immediately, then 5 s, 5 min, … after the
 * previous failure (10 attempts over 75 h 35 min)" (app/webhooks/retry-schedule.ts).
 */
function describeSchedule(t: TFunction, locale: Locale): string {
  const n = (x: number) => x.toLocaleString(locale);
  const human = (ms: number) =>
    ms < 60_000
      ? `${n(ms / 1000)} s`
      : ms < 3_600_000
        ? `${n(ms / 60_000)} min`
        : `${n(ms / 3_600_000)} h`;
  const total = WEBHOOK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
  return t("webhook.schedule", {
    delays: WEBHOOK_RETRY_DELAYS_MS.map(human).join(", "),
    attempts: WEBHOOK_MAX_ATTEMPTS,
    span: `${Math.floor(total / 3_600_000)} h ${Math.floor((total % 3_600_000) / 60_000)} min`,
  });
}

/** One endpoint: its state and its deliveries (attempts, last status, errors); enable, disable, retry, delete. */
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const locale = negotiateLocale(request);
  const endpoint = await getWebhookEndpoint(db, params.id ?? "");
  if (!endpoint) throw notFound(locale);
  const before = idCursor(new URL(request.url).searchParams);
  const deliveries = await listWebhookDeliveries(db, endpoint.id, {
    limit: PAGE + 1,
    before: before ?? undefined,
  });
  const more = deliveries.length > PAGE;
  const page = deliveries.slice(0, PAGE);
  return json(
    {
      endpoint: {
        ...endpoint,
        disabledReason: endpoint.disabledReason
          ? localizeMessage(
              getFixedT(locale, "integrations"),
              endpoint.disabledReason,
              WEBHOOK_DISABLED_REASONS,
            )
          : null,
      },
      deliveries: page,
      next: more ? `?before=${page[page.length - 1]!.outboxId}` : null,
      first: before ? "?" : null,
      schedule: describeSchedule(getFixedT(locale, "integrations"), locale),
      i18n: i18nPayload(locale, ["integrations"]),
    },
    { headers: NO_STORE },
  );
}

const OutboxId = z.coerce.number().int().positive();

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const db = getDb();
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "integrations");
  const endpoint = await getWebhookEndpoint(db, params.id ?? "");
  if (!endpoint) throw notFound(locale);
  const by = operator(user, request, context);
  const intent = text(formData, "intent");
  switch (intent) {
    case "enable":
    case "disable": {
      const enable = intent === "enable";
      await setWebhookEndpointEnabledAudited(db, endpoint, enable, by);
      return json({
        ok: true as const,
        message: enable ? t("webhook.enabled") : t("webhook.disabled"),
      });
    }
    case "delete": {
      await deleteWebhookEndpointAudited(db, endpoint, by);
      return redirect("/admin/webhooks");
    }
    case "retry": {
      const id = OutboxId.safeParse(text(formData, "outboxId"));
      if (!id.success) return formError(t("webhook.unknown_delivery"));
      if (!(await retryWebhookDelivery(db, endpoint, id.data, by))) {
        return formError(t("webhook.retry_refused"));
      }
      return json({ ok: true as const, message: t("webhook.retry_queued") });
    }
    case "retry-all": {
      const count = await retryAllWebhookDeliveries(db, endpoint, by);
      return json({
        ok: true as const,
        message:
          count === 0
            ? t("webhook.retry_all_none")
            : t("webhook.retry_all_queued", { count, n: count.toLocaleString(locale) }),
      });
    }
    default:
      return formError(t("form.unknown_action"));
  }
}

export default function WebhookEndpoint() {
  const { endpoint, deliveries, next, first, schedule } = useLoaderData<typeof loader>();
  const paused =
    endpoint.throttledUntil && new Date(endpoint.throttledUntil) > new Date()
      ? endpoint.throttledUntil
      : null;
  const actionData = useActionData<typeof action>();
  const t = useT("integrations");
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/webhooks">
          ← {t("webhook.all")}
        </Link>
      </p>
      <PageHeader
        title={t("webhook.title")}
        description={<span className="break-all">{endpoint.url}</span>}
      >
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value={endpoint.enabled ? "disable" : "enable"} />
          <button type="submit" className={buttonClass.secondary}>
            {endpoint.enabled ? t("webhook.disable") : t("webhook.enable")}
          </button>
        </Form>
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value="delete" />
          <button type="submit" className={buttonClass.danger}>
            {t("webhook.delete")}
          </button>
        </Form>
      </PageHeader>
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Section title={t("webhook.endpoint")} id="endpoint">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-800">{t("webhook.state")}</dt>
          <dd>
            <StatusBadge status={endpoint.enabled ? "enabled" : "disabled"} />
            {endpoint.disabledReason ? (
              <span className="ml-2 text-slate-700">{endpoint.disabledReason}</span>
            ) : null}
            {paused ? (
              <div className="mt-1 text-slate-700">
                {t("webhook.paused_until")} <Time value={paused} /> {t("webhook.paused_why")}
              </div>
            ) : null}
          </dd>
          <dt className="font-medium text-slate-800">{t("webhook.retries")}</dt>
          <dd className="text-slate-700">{t("webhook.retries_text", { schedule })}</dd>
          {endpoint.description ? (
            <>
              <dt className="font-medium text-slate-800">{t("webhook.description")}</dt>
              <dd>{endpoint.description}</dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-800">{t("webhooks.event_types")}</dt>
          <dd className="font-mono text-xs">{endpoint.eventTypes.join(", ")}</dd>
          <dt className="font-medium text-slate-800">{t("webhooks.col.created")}</dt>
          <dd>
            <Time value={endpoint.createdAt} />
          </dd>
        </dl>
      </Section>

      <Section title={t("webhook.deliveries")} id="deliveries">
        <Form method="post" className="mb-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="retry-all" />
          <button type="submit" className={buttonClass.secondary}>
            {t("webhook.retry_all")}
          </button>
        </Form>
        <div className="relative overflow-x-auto">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("webhook.deliveries_caption")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.queued")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.event")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.state")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.attempts")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.next")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("webhook.col.last")}
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {deliveries.length === 0 ? (
                <tr>
                  <td colSpan={6} className="px-3 py-4 text-slate-700">
                    {t("webhook.no_deliveries")}
                  </td>
                </tr>
              ) : null}
              {deliveries.map((d) => (
                <tr key={d.outboxId} className="align-top">
                  <td className="px-3 py-2 text-slate-700">
                    <Time value={d.createdAt} />
                  </td>
                  <td className="px-3 py-2">
                    <span className="font-mono text-xs">{d.eventType}</span>
                    {d.ledgerId ? (
                      <div className="text-xs text-slate-600">
                        {t("webhook.ledger_entry", { id: d.ledgerId })}
                      </div>
                    ) : null}
                  </td>
                  <td className="px-3 py-2">
                    <StatusBadge status={d.status} />
                    {d.status === "dead" ? (
                      <Form method="post" className="mt-1">
                        <CsrfInput />
                        <input type="hidden" name="intent" value="retry" />
                        <input type="hidden" name="outboxId" value={d.outboxId} />
                        <button type="submit" className={buttonClass.secondary}>
                          {t("webhook.retry")}
                          <span className="sr-only">
                            {" "}
                            {t("webhook.retry_sr", { id: d.outboxId })}
                          </span>
                        </button>
                      </Form>
                    ) : null}
                  </td>
                  <td className="px-3 py-2">
                    {t("webhook.attempts_of", { attempts: d.attempts, max: d.maxAttempts })}
                  </td>
                  <td className="px-3 py-2 text-slate-700">
                    {d.status === "pending" ? (
                      <>
                        <Time value={d.nextAttemptAt} />
                        <div className="text-xs">
                          {t("webhook.attempt_n", { n: d.attempts + 1 })}
                        </div>
                      </>
                    ) : d.status === "sending" ? (
                      t("webhook.in_progress")
                    ) : d.status === "dead" ? (
                      t("webhook.gave_up")
                    ) : (
                      t("webhook.none_delivered")
                    )}
                  </td>
                  <td className="px-3 py-2 text-xs text-slate-700">
                    {d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : null}
                    {d.webhookId ? (
                      <div className="font-mono break-all text-slate-600">{d.webhookId}</div>
                    ) : null}
                    {d.lastError ? <div className="max-w-md break-words">{d.lastError}</div> : null}
                    {d.sentAt ? (
                      <div>
                        {t("webhook.delivered_at")} <Time value={d.sentAt} />
                      </div>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pager
          prev={first}
          next={next}
          label={t("webhook.pages")}
          prevLabel={`← ${t("webhook.newest")}`}
          nextLabel={`${t("webhook.older")} →`}
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
