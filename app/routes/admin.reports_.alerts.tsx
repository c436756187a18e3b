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
  formatDateTime,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { checkAlertsNow, listAlerts } from "~/reports/alerts.server";
import { ALERT_LOOKBACK_DAYS, RATE_HIGH_EVENT } from "~/reports/constants";
import { formatRate } from "~/reports/rates";
import {
  defaultAlertSettings,
  getAlertSettings,
  updateAlertSettings,
} from "~/reports/settings.server";
import { CHANNEL_LABELS } from "~/consent/labels";
import { DataTable, FlagBadge, fmt } from "~/reports/ui/report-ui";
import { COMPLAINT_RATE_HIGH_EVENT } from "~/email/constants";
import { getEnv } from "~/env.server";
import { getComplaintAlertSettings, saveComplaintAlertSettings } from "~/reports/email.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [
  { title: "Unsubscribe-rate alerts · Reports · Heed admin" },
];

/**
 * /admin/reports/alerts: the alerts that fired (agents and admins) and their settings (admins
 * edit them; every change is audited). "Check now" runs the alert evaluation at once.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const db = getDb();
  const [settings, alerts, complaint] = await Promise.all([
    getAlertSettings(db),
    listAlerts(db, { limit: 200 }),
    getComplaintAlertSettings(db),
  ]);
  return json(
    {
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
const number = (label: string) =>
  z.string().trim().regex(NUMBER, `Enter ${label} as a number, like 1 or 0.5.`).transform(Number);
const whole = (label: string) =>
  z.string().trim().regex(/^\d+$/, `Enter ${label} as a whole number.`).transform(Number);

const SettingsForm = z
  .object({
    thresholdPercent: number("the threshold").pipe(
      z
        .number()
        .min(0.01, "The threshold is at least 0.01 %.")
        .max(100, "The threshold is at most 100 %."),
    ),
    minSent: whole("the minimum sent").pipe(
      z.number().int().min(1, "At least 1.").max(1_000_000_000, "Too large."),
    ),
    outlierEnabled: z.boolean(),
    sigmas: number("the standard deviations").pipe(
      z.number().min(1, "At least 1.").max(10, "At most 10."),
    ),
    baselineSize: whole("the number of campaigns").pipe(
      z.number().int().min(2, "At least 2.").max(200, "At most 200."),
    ),
    minBaseline: whole("the number of campaigns").pipe(
      z.number().int().min(2, "At least 2.").max(200, "At most 200."),
    ),
    minUnsubscribes: whole("the number of unsubscribes").pipe(
      z.number().int().min(1, "At least 1.").max(1_000_000, "Too large."),
    ),
    email: z.union([z.literal(""), z.email("Enter an email address, or leave it empty.")]),
  })
  .refine((s) => s.minBaseline <= s.baselineSize, {
    path: ["minBaseline"],
    message: "Cannot need more earlier campaigns than the average is taken over.",
  });

const ComplaintForm = z.object({
  thresholdPercent: number("the threshold").pipe(
    z
      .number()
      .min(0.001, "The threshold is at least 0.001 %.")
      .max(100, "The threshold is at most 100 %."),
  ),
});

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
  const intent = text(formData, "intent");
  if (intent === "complaint") {
    const parsed = parseForm(ComplaintForm, {
      thresholdPercent: text(formData, "complaintThresholdPercent"),
    });
    if (!parsed.ok) {
      return json(
        {
          ok: false as const,
          message: parsed.message,
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
      message: "Complaint alert threshold saved. It applies from the next check (within a minute).",
    });
  }
  if (intent === "check") {
    const { fired, complaints } = await checkAlertsNow(getDb(), by);
    const names = [...fired, ...complaints].map((f) => f.campaign.name);
    return json({
      ok: true as const,
      message:
        names.length === 0
          ? "Checked: no new alerts."
          : `Checked: ${names.length} new alert${names.length === 1 ? "" : "s"} (${names.join(", ")}).`,
    });
  }
  const input = {
    ...Object.fromEntries(FIELDS.map((f) => [f, text(formData, f)])),
    outlierEnabled: checked(formData, "outlierEnabled"),
  };
  const parsed = parseForm(SettingsForm, input);
  if (!parsed.ok) {
    return formErrorWithValues(parsed.message, parsed.fieldErrors, input);
  }
  await updateAlertSettings(getDb(), parsed.data, by);
  return json({
    ok: true as const,
    message: "Alert settings saved. They apply from the next check (within a minute).",
  });
}

export default function AlertsPage() {
  const { settings, defaults, alerts, complaint, complaintDefault, isAdmin } =
    useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const navigation = useNavigation();
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
          ← Reports
        </Link>
      </p>
      <PageHeader
        title="Unsubscribe-rate alerts"
        description={`Heed checks the campaigns of the last ${ALERT_LOOKBACK_DAYS} days every minute and alerts once per campaign: on the reports page, by email if an address is set, and as the webhook event ${RATE_HIGH_EVENT}.`}
      />
      {actionData ? (
        <Notice kind={actionData.ok ? "success" : "error"}>{actionData.message}</Notice>
      ) : null}

      <Section id="fired" title="Alerts fired">
        <DataTable
          caption="Alerts fired, newest first"
          testId="table-alerts"
          rows={alerts}
          rowKey={(a) => String(a.id)}
          empty="No alert has fired yet."
          columns={[
            {
              header: "When",
              cell: (a) => <span className="whitespace-nowrap">{formatDateTime(a.firedAt)}</span>,
            },
            {
              header: "Campaign",
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
            { header: "Channel", cell: (a) => CHANNEL_LABELS[a.channel as "email"] ?? a.channel },
            { header: "Sent", cell: (a) => fmt(a.sentCount), numeric: true },
            {
              header: "Unsubscribes or complaints",
              cell: (a) => fmt(a.unsubscribes),
              numeric: true,
            },
            { header: "Rate then", cell: (a) => formatRate(a.rate), numeric: true },
            {
              header: "Why",
              cell: (a) =>
                a.kind === "complaint_rate_high" ? (
                  <span className="font-medium text-red-800">Spam complaint rate</span>
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
              Check now
            </button>
          </Form>
        ) : null}
      </Section>

      <Section id="complaint-settings" title="Spam complaint alerts">
        <p className="mb-3 text-sm text-slate-700">
          An email campaign (of at least the minimum sent below) alerts once when the share of its
          recipients who reported it as spam reaches this threshold: Gmail and Yahoo ask senders to
          stay below 0.3 %. Alerts go to the same address and to webhooks as{" "}
          <code>{COMPLAINT_RATE_HIGH_EVENT}</code>.
        </p>
        <Form method="post" className="flex flex-wrap items-end gap-3" noValidate>
          <CsrfInput />
          <input type="hidden" name="intent" value="complaint" />
          <div>
            <label htmlFor="a-complaintThresholdPercent" className={labelClass}>
              Spam complaint rate that alerts (%)
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
              Default {complaintDefault} % (COMPLAINT_ALERT_THRESHOLD_PERCENT).
            </p>
            <FieldError
              id="a-complaintThresholdPercent-error"
              message={errors.complaintThresholdPercent}
            />
          </div>
          {isAdmin ? (
            <button type="submit" className={`mb-5 ${buttonClass.primary}`} disabled={busy}>
              Save
            </button>
          ) : null}
        </Form>
      </Section>

      <Section id="settings" title="Settings">
        {!isAdmin ? (
          <p className="mb-3 text-sm text-slate-700">Only admins can change these settings.</p>
        ) : null}
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
            "Alert threshold (%)",
            `A campaign whose rate reaches this alerts. Default ${defaults.thresholdPercent} % (UNSUBSCRIBE_ALERT_THRESHOLD_PERCENT).`,
          )}
          {field(
            "minSent",
            "Minimum sent",
            "Smaller campaigns never alert: a few unsubscribes would look like a spike.",
          )}
          <fieldset className="rounded-md border border-slate-200 p-3 sm:col-span-2">
            <legend className="px-1 text-sm font-medium text-slate-800">
              Far above the sender&apos;s average
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
                Also alert when a campaign&apos;s rate is above the mean plus N standard deviations
                of the sender&apos;s earlier campaigns on the same channel (those of at least the
                minimum sent).
              </label>
            </div>
            <div className="grid gap-4 sm:grid-cols-2">
              {field("sigmas", "Standard deviations (N)", "Default 3.")}
              {field(
                "baselineSize",
                "Earlier campaigns in the average",
                "The last ones before the campaign. Default 20.",
              )}
              {field(
                "minBaseline",
                "Fewest earlier campaigns needed",
                "With fewer, no comparison is made. Default 5.",
              )}
              {field(
                "minUnsubscribes",
                "Fewest unsubscribes",
                "A campaign needs at least this many to count as far above. Default 10.",
              )}
            </div>
          </fieldset>
          {field(
            "email",
            "Email alerts to",
            "Leave empty for no email (alerts still show here and go to webhooks). Default: UNSUBSCRIBE_ALERT_EMAIL.",
            "email",
          )}
          {isAdmin ? (
            <div className="flex items-end sm:col-span-2">
              <button type="submit" className={buttonClass.primary} disabled={busy}>
                Save settings
              </button>
            </div>
          ) : null}
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
