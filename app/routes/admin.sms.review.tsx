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
  StatusBadge,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { CHANNEL_LABELS } from "~/consent/labels";
import { getDb } from "~/db/db.server";
import { providerLabel } from "~/sms/admin-views";
import { listReviewQueue, resolveReview, REVIEW_BUSINESS_DAYS } from "~/sms/review.server";
import { NO_STORE } from "~/http/headers";

/**
 * /admin/sms/review: SMS/WhatsApp replies that contain a stop word without clearly saying stop.
 * Agents apply (unsubscribe the number on that channel) or dismiss each, one click, audited.
 */

export const meta: MetaFunction = () => [{ title: "SMS replies to review · Heed admin" }];

const NOTICES: Record<string, { kind: "success" | "info"; text: string }> = {
  applied: { kind: "success", text: "Applied: the number is unsubscribed on that channel." },
  unchanged: { kind: "info", text: "Applied: the number was already unsubscribed." },
  dismissed: { kind: "success", text: "Dismissed: nothing changed." },
  already_resolved: { kind: "info", text: "Another agent already decided on that message." },
  erased: { kind: "info", text: "That message's number was erased; it can only be dismissed." },
  not_found: { kind: "info", text: "There is no such message in the queue." },
};

function parseAfter(value: string | null): { receivedAt: Date; id: number } | null {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)_(\d{1,15})$/.exec(value ?? "");
  if (!m) return null;
  const receivedAt = new Date(m[1]!);
  return Number.isNaN(receivedAt.getTime()) ? null : { receivedAt, id: Number(m[2]) };
}

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const url = new URL(request.url);
  const after = parseAfter(url.searchParams.get("after"));
  const queue = await listReviewQueue(getDb(), { after });
  const last = queue.items.at(-1);
  const notice = NOTICES[url.searchParams.get("notice") ?? ""] ?? null;
  return json(
    {
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
  return (
    <div>
      <PageHeader
        title="SMS replies to review"
        description={
          <>
            Replies that contain a stop word without clearly saying stop (“End of the day works for
            me”). Clear opt-outs were applied at once. Decide on each within {data.businessDays}{" "}
            business days: <strong>Unsubscribe</strong> if the person asks to stop,{" "}
            <strong>Dismiss</strong> if not.
          </>
        }
      />
      {data.notice ? <Notice kind={data.notice.kind}>{data.notice.text}</Notice> : null}
      <Section
        title={`Waiting: ${data.total}`}
        id="queue"
        actions={
          data.overdue > 0 ? (
            <span className="rounded-full bg-red-100 px-2 py-0.5 text-sm font-medium text-red-900 ring-1 ring-inset ring-red-300">
              {data.overdue} overdue
            </span>
          ) : null
        }
      >
        {data.items.length === 0 ? (
          <p className="text-slate-700">Nothing waits for review.</p>
        ) : (
          <ul className="divide-y divide-slate-200">
            {data.items.map((item) => (
              <li key={item.id} data-review-id={item.id} className="py-3">
                <div className="flex flex-wrap items-baseline justify-between gap-2">
                  <div className="text-sm text-slate-700">
                    <Time value={item.receivedAt} /> ·{" "}
                    {CHANNEL_LABELS[item.channel as keyof typeof CHANNEL_LABELS] ?? item.channel} ·{" "}
                    {providerLabel(item.provider)} ·{" "}
                    {item.contactId ? (
                      <Link className={buttonClass.link} to={`/admin/contacts/${item.contactId}`}>
                        {item.address ?? "(erased)"}
                      </Link>
                    ) : (
                      <span className="break-all">{item.address ?? "(erased)"}</span>
                    )}
                  </div>
                  <div className="text-sm">
                    {item.overdue ? (
                      <StatusBadge status="overdue" />
                    ) : (
                      <span className="text-slate-700">
                        due <Time value={item.dueAt} />
                      </span>
                    )}
                  </div>
                </div>
                <p className="mt-1 whitespace-pre-wrap break-words text-base text-slate-900">
                  “{item.body ?? ""}”
                </p>
                {item.matched ? (
                  <p className="text-xs text-slate-600">stop word: “{item.matched}”</p>
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
                        aria-label={`Unsubscribe ${item.address} (message of ${new Date(item.receivedAt).toISOString().slice(0, 16)})`}
                      >
                        Unsubscribe
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
                      aria-label={`Dismiss the message from ${item.address ?? "an erased number"}`}
                    >
                      Dismiss
                    </button>
                  </Form>
                </div>
              </li>
            ))}
          </ul>
        )}
        <Pager
          label="Queue pages"
          prevLabel="↑ Oldest"
          nextLabel="Newer →"
          prev={data.paged ? "/admin/sms/review" : null}
          next={data.next ? `/admin/sms/review?after=${encodeURIComponent(data.next)}` : null}
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
