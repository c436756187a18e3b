import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { parseForm, text } from "~/admin/forms.server";
import { localizeFailure } from "~/admin/messages.server";
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
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { listenerStatus, providerStatus, recentEmailEvents } from "~/email/status.server";
import { getBounceSettings, saveBounceSettings } from "~/email/undeliverable.server";
import { getEnv } from "~/env.server";
import { NO_STORE } from "~/http/headers";
import type { TFunction } from "~/i18n/i18n.shared";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "settings", "email.title", "Email providers") },
];

/**
 * /admin/email (admins): which email providers are connected (webhook URLs to give them, and
 * whether their secret is configured), the mailto/FBL listener, the per-install soft-bounce rule,
 * and the latest email events Heed received.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const [bounces, events] = await Promise.all([getBounceSettings(db), recentEmailEvents(db)]);
  return json(
    {
      publicUrl: getEnv().publicUrl,
      providers: providerStatus(),
      listener: listenerStatus(),
      bounces,
      events,
      i18n: i18nPayload(negotiateLocale(request), ["settings"]),
    },
    { headers: NO_STORE },
  );
}

/** The soft-bounce form, its messages in the admin's language. */
const bounceForm = (t: TFunction) =>
  z.object({
    softBounceLimit: z
      .string()
      .trim()
      .regex(/^(\d{1,3})?$/, t("email.errors.whole_number"))
      .transform((v) => (v === "" ? null : Number(v)))
      .pipe(
        z
          .number()
          .int()
          .min(2, t("email.errors.at_least", { min: 2 }))
          .max(100, t("email.errors.at_most", { max: 100 }))
          .nullable(),
      ),
  });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "settings");
  const input = { softBounceLimit: text(formData, "softBounceLimit") };
  const parsed = parseForm(bounceForm(t), input);
  if (!parsed.ok) {
    const failure = localizeFailure(t, parsed, {});
    return json(
      {
        ok: false as const,
        message: failure.message,
        fieldErrors: failure.fieldErrors,
        values: input,
      },
      { status: 400 },
    );
  }
  const res = await saveBounceSettings(getDb(), parsed.data, operator(user, request, context));
  return json({
    ok: true as const,
    message: res.changed ? t("email.saved") : t("email.nothing_changed"),
  });
}

/** Event kinds and decisions with a label (`settings:email.kinds.*`, `email.decisions.*`). */
const KINDS = new Set(["mailto", "complaint", "esp_unsubscribe", "hard_bounce", "soft_bounce"]);
const DECISIONS = new Set([
  "received",
  "unmatched",
  "unsubscribed",
  "already_unsubscribed",
  "topic_opt_out",
  "undeliverable",
  "already_undeliverable",
  "soft_bounce_counted",
  "ignored",
]);

export default function EmailProviders() {
  const { publicUrl, providers, listener, bounces, events } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failed = actionData && !actionData.ok ? actionData : null;
  const t = useT("settings");
  const locale = useLocale();
  return (
    <div>
      <PageHeader title={t("email.title")} description={t("email.description")} />
      {actionData ? (
        <Notice kind={actionData.ok ? "success" : "error"}>{actionData.message}</Notice>
      ) : null}

      <Section title={t("email.webhooks")} id="providers">
        <ul className="divide-y divide-slate-100" data-testid="providers">
          {providers.map((p) => (
            <li key={p.name} className="grid gap-2 py-3 text-sm md:grid-cols-[10rem_1fr_1fr]">
              <div>
                <div className="font-medium text-slate-900">{p.name}</div>
                <div className="text-xs text-slate-600">
                  {p.variables.map((v) => (
                    <code key={v} className="block break-all">
                      {v}
                    </code>
                  ))}
                </div>
              </div>
              <div>
                <div className="text-xs font-medium text-slate-700">{t("email.event_webhook")}</div>
                <code className="block break-all text-xs">{`${publicUrl}${p.events}`}</code>
                <div className={p.configured ? "text-green-800" : "text-slate-700"}>
                  {p.configured ? t("email.ready") : t("email.not_configured_refused")}
                </div>
              </div>
              <div>
                <div className="text-xs font-medium text-slate-700">
                  {t("email.inbound_webhook")}
                </div>
                {p.inbound ? (
                  <>
                    <code className="block break-all text-xs">{`${publicUrl}${p.inbound}`}</code>
                    <div className={p.inboundConfigured ? "text-green-800" : "text-slate-700"}>
                      {p.inboundConfigured ? t("email.ready") : t("email.not_configured")}
                    </div>
                  </>
                ) : (
                  <div className="text-slate-700">{t("email.no_inbound")}</div>
                )}
              </div>
            </li>
          ))}
        </ul>
      </Section>

      <Section title={t("email.listener_title")} id="listener">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">{t("email.mailto")}</dt>
          <dd className="break-all">{listener.mailto ?? t("email.mailto_unset")}</dd>
          <dt className="font-medium text-slate-700">{t("email.fbl")}</dt>
          <dd className="break-all">{listener.fbl ?? t("email.fbl_unset")}</dd>
          <dt className="font-medium text-slate-700">{t("email.smtp")}</dt>
          <dd>
            {listener.smtpPort !== null
              ? t(listener.tls ? "email.smtp_on_tls" : "email.smtp_on_plain", {
                  port: listener.smtpPort,
                  size: Math.round(listener.maxBytes / 1024).toLocaleString(locale),
                })
              : t("email.smtp_off")}
          </dd>
        </dl>
      </Section>

      <Section title={t("email.bounces_title")} id="bounces">
        <p className="mb-3 text-sm text-slate-700">{t("email.bounces_intro")}</p>
        <Form method="post" className="flex flex-wrap items-end gap-3" noValidate>
          <CsrfInput />
          <div>
            <label htmlFor="softBounceLimit" className={labelClass}>
              {t("email.soft_limit")}
            </label>
            <input
              id="softBounceLimit"
              name="softBounceLimit"
              inputMode="numeric"
              defaultValue={
                failed ? failed.values.softBounceLimit : (bounces.softBounceLimit?.toString() ?? "")
              }
              aria-invalid={failed?.fieldErrors.softBounceLimit ? true : undefined}
              aria-describedby="softBounceLimit-hint softBounceLimit-error"
              className={`mt-1 w-32 ${inputClass}`}
            />
            <p id="softBounceLimit-hint" className={hintClass}>
              {t("email.soft_limit_hint")}
            </p>
            <FieldError id="softBounceLimit-error" message={failed?.fieldErrors.softBounceLimit} />
          </div>
          <button type="submit" className={`mb-5 ${buttonClass.primary}`}>
            {t("email.save")}
          </button>
        </Form>
      </Section>

      <Section title={t("email.events_title")} id="events">
        {events.length === 0 ? (
          <p className="text-slate-700">{t("email.events_none")}</p>
        ) : (
          <div className="overflow-x-auto" tabIndex={0}>
            <table
              className="min-w-full divide-y divide-slate-200 text-sm"
              data-testid="email-events"
            >
              <caption className="sr-only">{t("email.events_caption")}</caption>
              <thead className="text-left text-slate-700">
                <tr>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    {t("email.col.when")}
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    {t("email.col.from")}
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    {t("email.col.what")}
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    {t("email.col.address")}
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    {t("email.col.campaign")}
                  </th>
                  <th scope="col" className="py-2 font-medium">
                    {t("email.col.decision")}
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {events.map((e) => (
                  <tr key={e.id}>
                    <td className="whitespace-nowrap py-2 pr-3 text-slate-700">
                      <Time value={e.receivedAt} />
                    </td>
                    <td className="py-2 pr-3">{e.provider}</td>
                    <td className="py-2 pr-3">
                      {KINDS.has(e.kind) ? t(`email.kinds.${e.kind}`) : e.kind}
                    </td>
                    <td className="break-all py-2 pr-3">{e.address ?? "—"}</td>
                    <td className="py-2 pr-3">{e.campaign ?? "—"}</td>
                    <td className="py-2">
                      {DECISIONS.has(e.decision)
                        ? t(`email.decisions.${e.decision}`)
                        : e.decision.replace(/_/g, " ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
