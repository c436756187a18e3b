import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireUser } from "~/admin/auth.server";
import { checked, formErrorWithValues, parseForm, text } from "~/admin/forms.server";
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
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import type { Locale } from "~/i18n/config";
import type { TFunction } from "~/i18n/i18n.shared";
import { useT } from "~/i18n/react";
import { checkAlertsNow, listAlerts } from "~/reports/alerts.server";
import { ALERT_LOOKBACK_DAYS, RATE_HIGH_EVENT } from "~/reports/constants";
import {
  defaultAlertSettings,
  getAlertSettings,
  updateAlertSettings,
} from "~/reports/settings.server";
import { DataTable, FlagBadge, useReportFormat } from "~/reports/ui/report-ui";
import { COMPLAINT_RATE_HIGH_EVENT } from "~/email/constants";
import { getEnv } from "~/env.server";
import { getComplaintAlertSettings, saveComplaintAlertSettings } from "~/reports/email.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Unsubscribe-rate alerts · Reports") },
];

/**
 * /admin/reports/alerts: the alerts that fired (agents and admins) and their settings (admins
 * edit them; every change is audited). "Check now" runs the alert evaluation at once.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "reports");
  const db = getDb();
  const [settings, alerts, complaint] = await Promise.all([
    getAlertSettings(db),
    listAlerts(db, { limit: 200 }),
    getComplaintAlertSettings(db),
  ]);
  return json(
    {
      i18n: i18nPayload(locale, ["reports"]),
      title: `${t("alerts.title")} · ${t("title")}`,
      settings,
      defaults: defaultAlertSettings(),
      alerts,
      complaint,
      complaintDefault: getEnv().COMPLAINT_ALERT_THRESHOLD_PERCENT,
      isAdmin: user.role === "admin",
    },
    { headers: NO_STORE },
  );
}

const NUMBER = /^\d+(\.\d+)?$/;

/** The forms' rules, with their messages in the operator's language. */
function schemas(t: TFunction, locale: Locale) {
  const num = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 });
  const number = (field: string) =>
    z
      .string()
      .trim()
      .regex(NUMBER, t("alerts.error.number", { field: t(`alerts.error.field.${field}`) }))
      .transform(Number);
  const whole = (field: string) =>
    z
      .string()
      .trim()
      .regex(/^\d+$/, t("alerts.error.whole", { field: t(`alerts.error.field.${field}`) }))
      .transform(Number);
  const atLeast = (n: number) => t("alerts.error.at_least", { n: num.format(n) });
  const atMost = (n: number) => t("alerts.error.at_most", { n: num.format(n) });
  const tooLarge = t("alerts.error.too_large");
  const settings = z
    .object({
      thresholdPercent: number("threshold").pipe(
        z
          .number()
          .min(0.01, t("alerts.error.threshold_min", { n: num.format(0.01) }))
          .max(100, t("alerts.error.threshold_max")),
      ),
      minSent: whole("min_sent").pipe(
        z.number().int().min(1, atLeast(1)).max(1_000_000_000, tooLarge),
      ),
      outlierEnabled: z.boolean(),
      sigmas: number("sigmas").pipe(z.number().min(1, atLeast(1)).max(10, atMost(10))),
      baselineSize: whole("campaigns").pipe(
        z.number().int().min(2, atLeast(2)).max(200, atMost(200)),
      ),
      minBaseline: whole("campaigns").pipe(
        z.number().int().min(2, atLeast(2)).max(200, atMost(200)),
      ),
      minUnsubscribes: whole("unsubscribes").pipe(
        z.number().int().min(1, atLeast(1)).max(1_000_000, tooLarge),
      ),
      email: z.union([z.literal(""), z.email(t("alerts.error.email"))]),
    })
    .refine((s) => s.minBaseline <= s.baselineSize, {
      path: ["minBaseline"],
      message: t("alerts.error.baseline"),
    });
  const complaint = z.object({
    thresholdPercent: number("threshold").pipe(
      z
        .number()
        .min(0.001, t("alerts.error.threshold_min", { n: num.format(0.001) }))
        .max(100, t("alerts.error.threshold_max")),
    ),
  });
  return { settings, complaint };
}

const FIELDS = [
  "thresholdPercent",
  "minSent",
  "sigmas",
  "baselineSize",
  "minBaseline",
  "minUnsubscribes",
  "email",
] as const;

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "reports");
  const forms = schemas(t, locale);
  const intent = text(formData, "intent");
  if (intent === "complaint") {
    const parsed = parseForm(forms.complaint, {
      thresholdPercent: text(formData, "complaintThresholdPercent"),
    });
    if (!parsed.ok) {
      return json(
        {
          ok: false as const,
          message: t("alerts.error.fix"),
          fieldErrors: { complaintThresholdPercent: parsed.fieldErrors.thresholdPercent ?? "" },
          values: {
            complaintThresholdPercent: text(formData, "complaintThresholdPercent"),
          } as Record<string, string | boolean>,
        },
        { status: 400 },
      );
    }
    await saveComplaintAlertSettings(getDb(), parsed.data, by);
    return json({
      ok: true as const,
      message: t("alerts.complaint_saved"),
    });
  }
  if (intent === "check") {
    const { fired, complaints } = await checkAlertsNow(getDb(), by);
    const names = [...fired, ...complaints].map((f) => f.campaign.name);
    return json({
      ok: true as const,
      message:
        names.length === 0
          ? t("alerts.checked_none")
          : t("alerts.checked", { count: names.length, names: names.join(", ") }),
    });
  }
  const input = {
    ...Object.fromEntries(FIELDS.map((f) => [f, text(formData, f)])),
    outlierEnabled: checked(formData, "outlierEnabled"),
  };
  const parsed = parseForm(forms.settings, input);
  if (!parsed.ok) {
    return formErrorWithValues(t("alerts.error.fix"), parsed.fieldErrors, input);
  }
  await updateAlertSettings(getDb(), parsed.data, by);
  return json({
    ok: true as const,
    message: t("alerts.saved"),
  });
}

export default function AlertsPage() {
  const { settings, defaults, alerts, complaint, complaintDefault, isAdmin } =
    useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT("reports");
  const tc = useT("common");
  const f = useReportFormat();
  const failed = actionData && !actionData.ok ? actionData : null;
  const errors: Record<string, string> = failed?.fieldErrors ?? {};
  const values: Record<string, string | boolean> = failed
    ? failed.values
    : {
        ...Object.fromEntries(FIELDS.map((f) => [f, String(settings[f])])),
        outlierEnabled: settings.outlierEnabled,
      };
  const busy = navigation.state === "submitting";

  const field = (name: (typeof FIELDS)[number], label: string, hint: string, type = "text") => (
    <div>
      <label htmlFor={`a-${name}`} className={labelClass}>
        {label}
      </label>
      <input
        id={`a-${name}`}
        name={name}
        type={type}
        inputMode={type === "text" ? "decimal" : undefined}
        defaultValue={String(values[name] ?? "")}
        disabled={!isAdmin}
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={`a-${name}-hint${errors[name] ? ` a-${name}-error` : ""}`}
        className={`mt-1 ${inputClass}`}
      />
      <p id={`a-${name}-hint`} className={hintClass}>
        {hint}
      </p>
      <FieldError id={`a-${name}-error`} message={errors[name]} />
    </div>
  );

  return (
    <div>
      <p className="mb-2">
        <Link to="/admin/reports" className={buttonClass.link}>
          ← {t("title")}
        </Link>
      </p>
      <PageHeader
        title={t("alerts.title")}
        description={t("alerts.description", {
          days: ALERT_LOOKBACK_DAYS,
          event: RATE_HIGH_EVENT,
        })}
      />
      {actionData ? (
        <Notice kind={actionData.ok ? "success" : "error"}>{actionData.message}</Notice>
      ) : null}

      <Section id="fired" title={t("alerts.fired")}>
        <DataTable
          caption={t("alerts.fired_caption")}
          testId="table-alerts"
          rows={alerts}
          rowKey={(a) => String(a.id)}
          empty={t("alerts.none")}
          columns={[
            {
              header: t("col.when"),
              cell: (a) => <span className="whitespace-nowrap">{f.dateTime(a.firedAt)}</span>,
            },
            {
              header: t("col.campaign"),
              rowHeader: true,
              cell: (a) => (
                <Link
                  className={buttonClass.link}
                  to={`/admin/reports/campaigns/${encodeURIComponent(a.campaign)}`}
                >
                  {a.campaignName ?? a.campaign}
                </Link>
              ),
            },
            {
              header: t("col.channel"),
              cell: (a) => tc(`channels.${a.channel}`, { defaultValue: a.channel }),
            },
            { header: t("col.sent"), cell: (a) => f.n(a.sentCount), numeric: true },
            {
              header: t("alerts.col_unsubscribes"),
              cell: (a) => f.n(a.unsubscribes),
              numeric: true,
            },
            { header: t("alerts.col_rate"), cell: (a) => f.rate(a.rate), numeric: true },
            {
              header: t("alerts.col_why"),
              cell: (a) =>
                a.kind === "complaint_rate_high" ? (
                  <span className="font-medium text-red-800">{t("alerts.why_complaints")}</span>
                ) : (
                  <FlagBadge triggers={a.triggers} />
                ),
            },
          ]}
        />
        {isAdmin ? (
          <Form method="post" className="mt-3">
            <CsrfInput />
            <input type="hidden" name="intent" value="check" />
            <button type="submit" className={buttonClass.secondary} disabled={busy}>
              {t("alerts.check")}
            </button>
          </Form>
        ) : null}
      </Section>

      <Section id="complaint-settings" title={t("alerts.complaint_title")}>
        <p className="mb-3 text-sm text-slate-700">
          {t("alerts.complaint_text")} <code>{COMPLAINT_RATE_HIGH_EVENT}</code>.
        </p>
        <Form method="post" className="flex flex-wrap items-end gap-3" noValidate>
          <CsrfInput />
          <input type="hidden" name="intent" value="complaint" />
          <div>
            <label htmlFor="a-complaintThresholdPercent" className={labelClass}>
              {t("alerts.complaint_label")}
            </label>
            <input
              id="a-complaintThresholdPercent"
              name="complaintThresholdPercent"
              inputMode="decimal"
              defaultValue={String(values.complaintThresholdPercent ?? complaint.thresholdPercent)}
              disabled={!isAdmin}
              aria-invalid={errors.complaintThresholdPercent ? true : undefined}
              aria-describedby="a-complaintThresholdPercent-hint a-complaintThresholdPercent-error"
              className={`mt-1 w-40 ${inputClass}`}
            />
            <p id="a-complaintThresholdPercent-hint" className={hintClass}>
              {t("alerts.default_env", {
                value: f.percent(complaintDefault),
                env: "COMPLAINT_ALERT_THRESHOLD_PERCENT",
              })}
            </p>
            <FieldError
              id="a-complaintThresholdPercent-error"
              message={errors.complaintThresholdPercent}
            />
          </div>
          {isAdmin ? (
            <button type="submit" className={`mb-5 ${buttonClass.primary}`} disabled={busy}>
              {t("alerts.save")}
            </button>
          ) : null}
        </Form>
      </Section>

      <Section id="settings" title={t("alerts.settings")}>
        {!isAdmin ? <p className="mb-3 text-sm text-slate-700">{t("alerts.admins_only")}</p> : null}
        <Form method="post" className="grid max-w-3xl gap-4 sm:grid-cols-2" noValidate>
          <CsrfInput />
          <input type="hidden" name="intent" value="save" />
          {failed ? (
            <div className="sm:col-span-2">
              <Notice kind="error">{failed.message}</Notice>
            </div>
          ) : null}
          {field(
            "thresholdPercent",
            t("alerts.threshold"),
            `${t("alerts.threshold_hint")} ${t("alerts.default_env", {
              value: f.percent(defaults.thresholdPercent),
              env: "UNSUBSCRIBE_ALERT_THRESHOLD_PERCENT",
            })}`,
          )}
          {field("minSent", t("alerts.min_sent"), t("alerts.min_sent_hint"))}
          <fieldset className="rounded-md border border-slate-200 p-3 sm:col-span-2">
            <legend className="px-1 text-sm font-medium text-slate-800">
              {t("alerts.outlier_legend")}
            </legend>
            <div className="mb-3 flex items-start gap-2">
              <input
                id="a-outlierEnabled"
                name="outlierEnabled"
                type="checkbox"
                defaultChecked={values.outlierEnabled === true}
                disabled={!isAdmin}
                className="mt-1 h-4 w-4"
              />
              <label htmlFor="a-outlierEnabled" className="text-sm text-slate-800">
                {t("alerts.outlier_enabled")}
              </label>
            </div>
            <div className="grid gap-4 sm:grid-cols-2">
              {field("sigmas", t("alerts.sigmas"), t("alerts.default", { value: f.n(3) }))}
              {field(
                "baselineSize",
                t("alerts.baseline_size"),
                `${t("alerts.baseline_size_hint")} ${t("alerts.default", { value: f.n(20) })}`,
              )}
              {field(
                "minBaseline",
                t("alerts.min_baseline"),
                `${t("alerts.min_baseline_hint")} ${t("alerts.default", { value: f.n(5) })}`,
              )}
              {field(
                "minUnsubscribes",
                t("alerts.min_unsubscribes"),
                `${t("alerts.min_unsubscribes_hint")} ${t("alerts.default", { value: f.n(10) })}`,
              )}
            </div>
          </fieldset>
          {field(
            "email",
            t("alerts.email"),
            `${t("alerts.email_hint")} ${t("alerts.default_is", { value: "UNSUBSCRIBE_ALERT_EMAIL" })}`,
            "email",
          )}
          {isAdmin ? (
            <div className="flex items-end sm:col-span-2">
              <button type="submit" className={buttonClass.primary} disabled={busy}>
                {t("alerts.save_settings")}
              </button>
            </div>
          ) : null}
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
