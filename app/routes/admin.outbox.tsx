import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { retryOutboxMessageAudited } from "~/admin/outbox.server";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Pager,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { countOutbox, listOutbox, type OutboxStatus } from "~/outbox/outbox.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

/**
 * /admin/outbox: what Heed queued for delivery (mail, SMS, webhooks), with dead messages first in
 * mind: their last error, and a "retry" button that gives a dead message a fresh set of attempts.
 * Admins only; every retry is audited.
 */

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Outbox") },
];

const PAGE_SIZE = 50;
const STATUSES = ["dead", "expired", "pending", "sending", "sent"] as const;
const KINDS = ["email", "sms", "webhook"] as const;
const STATUS_STYLE: Record<string, string> = {
  dead: "bg-red-100 text-red-900 ring-red-300",
  pending: "bg-amber-100 text-amber-900 ring-amber-300",
  sending: "bg-sky-100 text-sky-900 ring-sky-300",
  sent: "bg-green-100 text-green-900 ring-green-300",
  expired: "bg-slate-200 text-slate-800 ring-slate-400",
};

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const locale = negotiateLocale(request);
  const url = new URL(request.url);
  const statusParam = url.searchParams.get("status");
  const status: OutboxStatus | "all" = (STATUSES as readonly string[]).includes(statusParam ?? "")
    ? (statusParam as OutboxStatus)
    : statusParam === "all"
      ? "all"
      : "dead";
  const kindParam = url.searchParams.get("kind");
  const kind = (KINDS as readonly string[]).includes(kindParam ?? "")
    ? (kindParam as (typeof KINDS)[number])
    : null;
  const before = idCursor(url.searchParams);
  const db = getDb();
  const [messages, counts] = await Promise.all([
    listOutbox(db, {
      status: status === "all" ? undefined : status,
      kind: kind ?? undefined,
      before: before ?? undefined,
      limit: PAGE_SIZE + 1,
    }),
    countOutbox(db),
  ]);
  const page = messages.slice(0, PAGE_SIZE);
  return json(
    {
      i18n: i18nPayload(locale, ["outbox"]),
      title: getFixedT(locale, "outbox")("title"),
      status,
      kind,
      counts,
      nextBefore: messages.length > PAGE_SIZE ? page.at(-1)!.id : null,
      messages: page.map((m) => ({
        id: m.id,
        kind: m.kind,
        recipient: m.recipient,
        status: m.status,
        attempts: m.attempts,
        maxAttempts: m.maxAttempts,
        title: m.title,
        lastError: m.lastError,
        createdAt: m.createdAt.toISOString(),
        nextAttemptAt: m.nextAttemptAt.toISOString(),
        sentAt: m.sentAt?.toISOString() ?? null,
      })),
    },
    { headers: NO_STORE },
  );
}

const RetrySchema = z.object({
  intent: z.literal("retry"),
  id: z.coerce.number().int().positive(),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "outbox");
  const parsed = RetrySchema.safeParse({ intent: formData.get("intent"), id: formData.get("id") });
  if (!parsed.success)
    return json({ ok: false as const, message: t("unknown_action") }, { status: 400 });
  const retried = await retryOutboxMessageAudited(
    getDb(),
    parsed.data.id,
    operator(user, request, context),
  );
  if (!retried) {
    return json(
      {
        ok: false as const,
        message: t("not_dead", { id: parsed.data.id }),
      },
      { status: 409 },
    );
  }
  return json({
    ok: true as const,
    message: t("retried", { id: parsed.data.id }),
  });
}

export default function AdminOutbox() {
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const t = useT("outbox");
  const locale = useLocale();
  const n = (x: number) => x.toLocaleString(locale);
  const link = (extra: Record<string, string | null>) => {
    const p = new URLSearchParams();
    const merged = { status: data.status, kind: data.kind, ...extra };
    for (const [k, v] of Object.entries(merged)) if (v) p.set(k, v);
    return `/admin/outbox?${p}`;
  };
  return (
    <div>
      <PageHeader
        title={t("title")}
        description={
          <>
            {t("description")}{" "}
            {STATUSES.map((s) => `${t(`status.${s}`)} ${n(data.counts[s])}`).join(" · ")}.
          </>
        }
      />
      {actionData ? (
        <Notice kind={actionData.ok ? "success" : "error"}>{actionData.message}</Notice>
      ) : null}
      <Form
        method="get"
        className="mb-6 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4"
      >
        <div>
          <label htmlFor="f-status" className={labelClass}>
            {t("filter.status")}
          </label>
          <select
            id="f-status"
            name="status"
            defaultValue={data.status}
            className={`mt-1 ${inputClass}`}
          >
            {[...STATUSES, "all"].map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-kind" className={labelClass}>
            {t("filter.kind")}
          </label>
          <select
            id="f-kind"
            name="kind"
            defaultValue={data.kind ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("kind.any")}</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kind.${k}`)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className={buttonClass.primary}>
          {t("filter.show")}
        </button>
      </Form>

      {data.messages.length === 0 ? (
        <p className="text-slate-700">{t("none")}</p>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("caption")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.queued")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.message")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.status")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.last_error")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  <span className="sr-only">{t("col.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {data.messages.map((m) => (
                <tr key={m.id} className="align-top" data-outbox-id={m.id}>
                  <td className="whitespace-nowrap px-3 py-2 text-slate-700">
                    <Time value={m.createdAt} />
                  </td>
                  <td className="max-w-sm px-3 py-2">
                    <div className="text-xs text-slate-600">
                      #{m.id} · {t(`kind.${m.kind}`, { defaultValue: m.kind })}
                    </div>
                    <div className="break-all font-medium">{m.recipient}</div>
                    {m.title ? <div className="break-words text-slate-700">{m.title}</div> : null}
                  </td>
                  <td className="whitespace-nowrap px-3 py-2">
                    <span
                      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_STYLE[m.status] ?? ""}`}
                    >
                      {t(`status.${m.status}`, { defaultValue: m.status })}
                    </span>
                    <div className="mt-1 text-xs text-slate-700">
                      {t("attempt", { attempts: n(m.attempts), max: n(m.maxAttempts) })}
                    </div>
                    {m.status === "pending" && m.attempts > 0 ? (
                      <div className="text-xs text-slate-700">
                        {t("next")} <Time value={m.nextAttemptAt} />
                      </div>
                    ) : null}
                    {m.sentAt ? (
                      <div className="text-xs text-slate-700">
                        {t("sent")} <Time value={m.sentAt} />
                      </div>
                    ) : null}
                  </td>
                  <td className="max-w-md px-3 py-2 text-slate-800 break-words">
                    {m.lastError ?? "—"}
                  </td>
                  <td className="px-3 py-2">
                    {m.status === "dead" ? (
                      <Form method="post">
                        <CsrfInput />
                        <input type="hidden" name="id" value={m.id} />
                        <button
                          type="submit"
                          name="intent"
                          value="retry"
                          className={buttonClass.secondary}
                        >
                          {t("retry")}
                          <span className="sr-only"> {t("retry_which", { id: m.id })}</span>
                        </button>
                      </Form>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        label={t("pager.label")}
        nextLabel={t("pager.next")}
        next={data.nextBefore ? link({ before: String(data.nextBefore) }) : null}
      />
      <p className="mt-6 text-sm text-slate-600">
        <Link className={buttonClass.link} to={link({ status: "all", before: null })}>
          {t("show_all")}
        </Link>
      </p>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
