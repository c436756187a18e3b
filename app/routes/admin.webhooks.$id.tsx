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
import { describeWebhookSchedule } from "~/webhooks/retry-schedule";
import { getWebhookEndpoint, listWebhookDeliveries } from "~/webhooks/endpoints.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

export const meta: MetaFunction = () => [{ title: "Webhook endpoint · Heed admin" }];

const PAGE = 50;

function notFound(): Response {
  return new Response("There is no webhook endpoint with this id.", { status: 404 });
}

/** One endpoint: its state and its deliveries (attempts, last status, errors); enable, disable, retry, delete. */
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const endpoint = await getWebhookEndpoint(db, params.id ?? "");
  if (!endpoint) throw notFound();
  const before = idCursor(new URL(request.url).searchParams);
  const deliveries = await listWebhookDeliveries(db, endpoint.id, {
    limit: PAGE + 1,
    before: before ?? undefined,
  });
  const more = deliveries.length > PAGE;
  const page = deliveries.slice(0, PAGE);
  return json(
    {
      endpoint,
      deliveries: page,
      next: more ? `?before=${page[page.length - 1]!.outboxId}` : null,
      first: before ? "?" : null,
      schedule: describeWebhookSchedule(),
    },
    { headers: NO_STORE },
  );
}

const OutboxId = z.coerce.number().int().positive();

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const db = getDb();
  const endpoint = await getWebhookEndpoint(db, params.id ?? "");
  if (!endpoint) throw notFound();
  const by = operator(user, request, context);
  const intent = text(formData, "intent");
  switch (intent) {
    case "enable":
    case "disable": {
      const enable = intent === "enable";
      await setWebhookEndpointEnabledAudited(db, endpoint, enable, by);
      return json({
        ok: true as const,
        message: enable
          ? "Endpoint enabled."
          : "Endpoint disabled: no new deliveries are queued for it.",
      });
    }
    case "delete": {
      await deleteWebhookEndpointAudited(db, endpoint, by);
      return redirect("/admin/webhooks");
    }
    case "retry": {
      const id = OutboxId.safeParse(text(formData, "outboxId"));
      if (!id.success) return formError("Unknown delivery.");
      if (!(await retryWebhookDelivery(db, endpoint, id.data, by))) {
        return formError("Only failed (dead) deliveries of this endpoint can be retried.");
      }
      return json({ ok: true as const, message: "The delivery will be tried again shortly." });
    }
    case "retry-all": {
      const count = await retryAllWebhookDeliveries(db, endpoint, by);
      return json({
        ok: true as const,
        message:
          count === 0
            ? "There are no failed deliveries to retry."
            : `${count} failed ${count === 1 ? "delivery" : "deliveries"} will be tried again shortly, each with a fresh schedule.`,
      });
    }
    default:
      return formError("Unknown action.");
  }
}

export default function WebhookEndpoint() {
  const { endpoint, deliveries, next, first, schedule } = useLoaderData<typeof loader>();
  const paused =
    endpoint.throttledUntil && new Date(endpoint.throttledUntil) > new Date()
      ? endpoint.throttledUntil
      : null;
  const actionData = useActionData<typeof action>();
  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/webhooks">
          ← All webhooks
        </Link>
      </p>
      <PageHeader
        title="Webhook endpoint"
        description={<span className="break-all">{endpoint.url}</span>}
      >
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value={endpoint.enabled ? "disable" : "enable"} />
          <button type="submit" className={buttonClass.secondary}>
            {endpoint.enabled ? "Disable" : "Enable"}
          </button>
        </Form>
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value="delete" />
          <button type="submit" className={buttonClass.danger}>
            Delete
          </button>
        </Form>
      </PageHeader>
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Section title="Endpoint" id="endpoint">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-800">State</dt>
          <dd>
            <StatusBadge status={endpoint.enabled ? "enabled" : "disabled"} />
            {endpoint.disabledReason ? (
              <span className="ml-2 text-slate-700">{endpoint.disabledReason}</span>
            ) : null}
            {paused ? (
              <div className="mt-1 text-slate-700">
                Paused until <Time value={paused} /> (it asked Heed to slow down: 429, 502, 503 or
                504).
              </div>
            ) : null}
          </dd>
          <dt className="font-medium text-slate-800">Retries</dt>
          <dd className="text-slate-700">
            Failed deliveries are tried {schedule}, never sooner than the endpoint&apos;s
            Retry-After. When every delivery fails for that long, Heed disables the endpoint and
            emails the admins.
          </dd>
          {endpoint.description ? (
            <>
              <dt className="font-medium text-slate-800">Description</dt>
              <dd>{endpoint.description}</dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-800">Event types</dt>
          <dd className="font-mono text-xs">{endpoint.eventTypes.join(", ")}</dd>
          <dt className="font-medium text-slate-800">Created</dt>
          <dd>
            <Time value={endpoint.createdAt} />
          </dd>
        </dl>
      </Section>

      <Section title="Deliveries" id="deliveries">
        <Form method="post" className="mb-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="retry-all" />
          <button type="submit" className={buttonClass.secondary}>
            Retry all failed deliveries
          </button>
        </Form>
        <div className="relative overflow-x-auto">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">Deliveries, newest first</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  Queued
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Event
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  State
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Attempts
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Next attempt
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Last answer
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {deliveries.length === 0 ? (
                <tr>
                  <td colSpan={6} className="px-3 py-4 text-slate-700">
                    No deliveries yet. Every consent change of a subscribed type queues one.
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
                      <div className="text-xs text-slate-600">ledger #{d.ledgerId}</div>
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
                          Retry<span className="sr-only"> delivery {d.outboxId}</span>
                        </button>
                      </Form>
                    ) : null}
                  </td>
                  <td className="px-3 py-2">
                    {d.attempts} of {d.maxAttempts}
                  </td>
                  <td className="px-3 py-2 text-slate-700">
                    {d.status === "pending" ? (
                      <>
                        <Time value={d.nextAttemptAt} />
                        <div className="text-xs">attempt {d.attempts + 1}</div>
                      </>
                    ) : d.status === "sending" ? (
                      "in progress"
                    ) : d.status === "dead" ? (
                      "none: gave up"
                    ) : (
                      "none: delivered"
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
                        delivered <Time value={d.sentAt} />
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
          label="Deliveries pages"
          prevLabel="← Newest"
          nextLabel="Older →"
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
