import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireUser } from "~/admin/auth.server";
import { parseForm } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Pager,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { reportFormat } from "~/reports/ui/report-ui";
import { providerLabel } from "~/sms/admin-views";
import { listReviewQueue, resolveReview, REVIEW_BUSINESS_DAYS } from "~/sms/review.server";
import { NO_STORE } from "~/http/headers";

/**
 * /admin/sms/review: SMS/WhatsApp replies that contain a stop word without clearly saying stop.
 * Agents apply (unsubscribe the number on that channel) or dismiss each, one click, audited.
 */

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "SMS replies to review") },
];

/** What a decision's answer says (`smsreview` namespace, `notice.<code>`). */
const NOTICES: Record<string, "success" | "info"> = {
  applied: "success",
  unchanged: "info",
  dismissed: "success",
  already_resolved: "info",
  erased: "info",
  not_found: "info",
};

function parseAfter(value: string | null): { receivedAt: Date; id: number } | null {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)_(\d{1,15})$/.exec(value ?? "");
  if (!m) return null;
  const receivedAt = new Date(m[1]!);
  return Number.isNaN(receivedAt.getTime()) ? null : { receivedAt, id: Number(m[2]) };
}

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const locale = negotiateLocale(request);
  const url = new URL(request.url);
  const after = parseAfter(url.searchParams.get("after"));
  const queue = await listReviewQueue(getDb(), { after });
  const last = queue.items.at(-1);
  const code = url.searchParams.get("notice") ?? "";
  const notice = NOTICES[code] ? { kind: NOTICES[code], code } : null;
  return json(
    {
      i18n: i18nPayload(locale, ["smsreview"]),
      title: getFixedT(locale, "smsreview")("title"),
      ...queue,
      paged: after !== null,
      businessDays: REVIEW_BUSINESS_DAYS,
      next:
        last && queue.items.length >= 50
          ? `${new Date(last.receivedAt).toISOString()}_${last.id}`
          : null,
      notice,
    },
    { headers: NO_STORE },
  );
}

const ActionSchema = z.object({
  intent: z.enum(["apply", "dismiss"]),
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "agent");
  const parsed = parseForm(ActionSchema, Object.fromEntries(formData));
  if (!parsed.ok) return redirect("/admin/sms/review?notice=not_found");
  const r = await resolveReview(getDb(), {
    id: parsed.data.id,
    action: parsed.data.intent,
    by: operator(user, request, context),
  });
  return redirect(`/admin/sms/review?notice=${r.status}`);
}

export default function ReviewQueue() {
  const data = useLoaderData<typeof loader>();
  const t = useT("smsreview");
  const tc = useT("common");
  const locale = useLocale();
  const n = (x: number) => x.toLocaleString(locale);
  const f = reportFormat(locale);
  return (
    <div>
      <PageHeader
        title={t("title")}
        description={t("description", { days: n(data.businessDays) })}
      />
      {data.notice ? (
        <Notice kind={data.notice.kind}>{t(`notice.${data.notice.code}`)}</Notice>
      ) : null}
      <Section
        title={t("waiting", { n: n(data.total) })}
        id="queue"
        actions={
          data.overdue > 0 ? (
            <span className="rounded-full bg-red-100 px-2 py-0.5 text-sm font-medium text-red-900 ring-1 ring-inset ring-red-300">
              {t("overdue_count", { n: n(data.overdue) })}
            </span>
          ) : null
        }
      >
        {data.items.length === 0 ? (
          <p className="text-slate-700">{t("empty")}</p>
        ) : (
          <ul className="divide-y divide-slate-200">
            {data.items.map((item) => {
              const when = f.dateTime(item.receivedAt);
              const address = item.address ?? t("erased");
              return (
                <li key={item.id} data-review-id={item.id} className="py-3">
                  <div className="flex flex-wrap items-baseline justify-between gap-2">
                    <div className="text-sm text-slate-700">
                      <Time value={item.receivedAt} /> ·{" "}
                      {tc(`channels.${item.channel}`, { defaultValue: item.channel })} ·{" "}
                      {providerLabel(item.provider)} ·{" "}
                      {item.contactId ? (
                        <Link className={buttonClass.link} to={`/admin/contacts/${item.contactId}`}>
                          {address}
                        </Link>
                      ) : (
                        <span className="break-all">{address}</span>
                      )}
                    </div>
                    <div className="text-sm">
                      {item.overdue ? (
                        <span className="inline-block rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-900 ring-1 ring-inset ring-red-300">
                          {t("overdue")}
                        </span>
                      ) : (
                        <span className="text-slate-700">
                          {t("due")} <Time value={item.dueAt} />
                        </span>
                      )}
                    </div>
                  </div>
                  <p className="mt-1 whitespace-pre-wrap break-words text-base text-slate-900">
                    {t("quoted", { text: item.body ?? "" })}
                  </p>
                  {item.matched ? (
                    <p className="text-xs text-slate-600">
                      {t("stop_word", { word: t("quoted", { text: item.matched }) })}
                    </p>
                  ) : null}
                  <div className="mt-2 flex flex-wrap gap-2">
                    {item.address ? (
                      <Form method="post">
                        <CsrfInput />
                        <input type="hidden" name="id" value={item.id} />
                        <button
                          type="submit"
                          name="intent"
                          value="apply"
                          className={buttonClass.danger}
                          aria-label={t("apply_label", { address: item.address, when })}
                        >
                          {t("apply")}
                        </button>
                      </Form>
                    ) : null}
                    <Form method="post">
                      <CsrfInput />
                      <input type="hidden" name="id" value={item.id} />
                      <button
                        type="submit"
                        name="intent"
                        value="dismiss"
                        className={buttonClass.secondary}
                        aria-label={
                          item.address
                            ? t("dismiss_label", { address: item.address })
                            : t("dismiss_label_erased")
                        }
                      >
                        {t("dismiss")}
                      </button>
                    </Form>
                  </div>
                </li>
              );
            })}
          </ul>
        )}
        <Pager
          label={t("pager.label")}
          prevLabel={t("pager.oldest")}
          nextLabel={t("pager.newer")}
          prev={data.paged ? "/admin/sms/review" : null}
          next={data.next ? `/admin/sms/review?after=${encodeURIComponent(data.next)}` : null}
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
