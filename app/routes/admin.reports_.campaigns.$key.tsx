import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import { AdminErrorBoundary, buttonClass, PageHeader, Section } from "~/admin/ui/components";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { barsChart, dailyChart, NARROW } from "~/reports/charts.server";
import { ALERT_LOOKBACK_DAYS } from "~/reports/constants";
import { filterQuery, parseReportFilter } from "~/reports/filters";
import { getCampaignReport } from "~/reports/campaigns.server";
import { complaintRates, getComplaintAlertSettings } from "~/reports/email.server";
import { localLabels } from "~/reports/labels.server";
import { getAlertSettings, rulesOf } from "~/reports/settings.server";
import { Chart, DataTable, FlagBadge, Stat, useReportFormat } from "~/reports/ui/report-ui";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  {
    title: adminPageTitle(
      matches,
      `${data?.campaign.name ?? "Campaign"} · ${data?.reportsTitle ?? "Reports"}`,
    ),
  },
];

/** /admin/reports/campaigns/{key}: one campaign's rate, reasons, sources, days and free text. */
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "reports");
  const key = params.key ?? "";
  const db = getDb();
  const [settings, labels] = await Promise.all([getAlertSettings(db), localLabels(db, locale)]);
  const report = key.length <= 200 ? await getCampaignReport(db, key, rulesOf(settings)) : null;
  if (!report) {
    throw new Response(t("campaign.not_found", { key: key.slice(0, 80) }), { status: 404 });
  }
  // Reasons in the operator's language (the report names them in English).
  report.reasons = report.reasons.map((r) => ({ ...r, label: labels.reason(r.code) }));
  report.freeText = report.freeText.map((r) => ({
    ...r,
    reasonLabel: labels.reason(r.reasonCode),
  }));
  const [complaints, complaintSettings] = await Promise.all([
    complaintRates(db, [report.campaign]),
    getComplaintAlertSettings(db),
  ]);
  // Back to the dashboard with the filters it had.
  const { filter } = parseReportFilter(new URL(request.url).searchParams);
  return json(
    {
      ...report,
      i18n: i18nPayload(locale, ["reports", "labels"]),
      reportsTitle: t("title"),
      topicName: report.campaign.topic ? labels.topic(report.campaign.topic) : null,
      back: `/admin/reports?${filterQuery(filter)}`,
      thresholdPercent: settings.thresholdPercent,
      complaints: complaints[report.campaign.key]!,
      complaintThresholdPercent: complaintSettings.thresholdPercent,
      alertableSince: new Date(Date.now() - ALERT_LOOKBACK_DAYS * 86_400_000).toISOString(),
      minSent: settings.minSent,
      charts: {
        daily: dailyChart(report.daily, locale),
        reasons: barsChart(
          report.reasons.map((r) => ({ label: r.label, value: r.count, muted: r.code === null })),
          { width: NARROW, locale },
        ),
      },
    },
    { headers: NO_STORE },
  );
}

export default function CampaignReport() {
  const data = useLoaderData<typeof loader>();
  const t = useT("reports");
  const tc = useT("common");
  const tl = useT("labels");
  const f = useReportFormat();
  const c = data.campaign;
  const channel = tc(`channels.${c.channel}`);
  return (
    <div>
      <p className="mb-2">
        <Link to={data.back} className={buttonClass.link}>
          ← {t("title")}
        </Link>
      </p>
      <PageHeader
        title={c.name}
        description={[
          c.key,
          channel,
          data.topicName ? t("campaign.topic", { topic: data.topicName }) : null,
          t("campaign.registered", { when: f.dateTime(c.createdAt) }),
        ]
          .filter(Boolean)
          .join(" · ")}
      />

      {c.triggers.length > 0 || c.alert ? (
        <div
          role="status"
          className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-950"
          data-testid="campaign-flag"
        >
          <p className="font-medium">{t("campaign.high")}</p>
          <ul className="mt-1 list-disc pl-5">
            {c.triggers.includes("threshold") ? (
              <li>
                {t("campaign.threshold", {
                  rate: f.rate(c.rate),
                  threshold: f.percent(data.thresholdPercent),
                })}
              </li>
            ) : null}
            {c.triggers.includes("outlier") && c.baseline ? (
              <li>
                {t("campaign.outlier", {
                  mean: f.rate(c.baseline.mean),
                  channel,
                  campaigns: f.n(c.baseline.campaigns),
                  limit: f.rate(c.baseline.limit),
                })}
              </li>
            ) : null}
            <li>
              {c.alert
                ? t("campaign.alert_sent", { when: f.dateTime(c.alert.firedAt) })
                : c.createdAt >= data.alertableSince
                  ? t("campaign.alert_soon")
                  : t("flagged.no_alert_sentence", { days: ALERT_LOOKBACK_DAYS })}
            </li>
          </ul>
        </div>
      ) : null}

      {data.complaints.alert ? (
        <div
          role="status"
          className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-950"
          data-testid="complaint-flag"
        >
          <p className="font-medium">
            {t("campaign.complaint_high", {
              rate: f.rate(data.complaints.rate),
              threshold: f.percent(data.complaintThresholdPercent),
            })}
          </p>
          <p>{t("campaign.alert_sent", { when: f.dateTime(data.complaints.alert.firedAt) })}</p>
        </div>
      ) : null}

      <dl className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <Stat label={t("col.sent")} value={f.n(c.sentCount)} />
        <Stat
          label={t("campaign.left")}
          value={f.n(c.unsubscribes)}
          hint={t("campaign.left_hint")}
        />
        <Stat
          label={t("campaign.rate")}
          value={f.rate(c.rate)}
          hint={
            c.sentCount < data.minSent
              ? t("campaign.under_min", { minSent: f.n(data.minSent) })
              : undefined
          }
        />
        {c.channel === "email" ? (
          <Stat
            label={t("campaign.complaint_rate")}
            value={f.rate(data.complaints.rate)}
            hint={t("campaign.complaint_hint", {
              people: f.n(data.complaints.complaints),
              threshold: f.percent(data.complaintThresholdPercent),
            })}
          />
        ) : null}
        <Stat
          label={t("campaign.usual")}
          value={c.baseline ? f.rate(c.baseline.mean) : "—"}
          hint={
            c.baseline
              ? t("campaign.usual_hint", { campaigns: f.n(c.baseline.campaigns) })
              : t("campaign.usual_none")
          }
        />
      </dl>
      {c.triggers.length > 0 ? (
        <p className="-mt-4 mb-6">
          <FlagBadge triggers={c.triggers} />
        </p>
      ) : null}

      <Section id="daily" title={t("campaign.daily_title")}>
        <Chart svg={data.charts.daily} label={t("campaign.daily_chart")} testId="chart-daily" />
        <DataTable
          caption={t("campaign.daily_caption")}
          scroll
          rows={data.daily}
          rowKey={(r) => r.day}
          empty={t("campaign.nobody_left")}
          columns={[
            {
              header: t("over_time.day"),
              cell: (r) => <span className="whitespace-nowrap">{r.day}</span>,
              rowHeader: true,
            },
            { header: t("col.people"), cell: (r) => f.n(r.count), numeric: true },
          ]}
        />
      </Section>

      <div className="grid grid-cols-1 gap-x-6 lg:grid-cols-2">
        <Section id="reasons" title={t("campaign.reasons_title")}>
          <Chart
            svg={data.charts.reasons}
            label={t("campaign.reasons_chart")}
            testId="chart-campaign-reasons"
            narrow
          />
          <DataTable
            caption={t("campaign.reasons_caption")}
            rows={data.reasons}
            rowKey={(r) => r.code ?? "-"}
            empty={t("campaign.nobody_left")}
            columns={[
              { header: t("col.reason"), cell: (r) => r.label, rowHeader: true },
              { header: t("col.people"), cell: (r) => f.n(r.count), numeric: true },
              { header: t("col.share"), cell: (r) => f.share(r.share), numeric: true },
            ]}
          />
        </Section>
        <Section id="sources" title={t("campaign.sources_title")}>
          <DataTable
            caption={t("campaign.sources_caption")}
            rows={data.sources}
            rowKey={(r) => r.source}
            empty={t("campaign.no_unsubscribes")}
            columns={[
              {
                header: t("col.source"),
                cell: (r) => tl(`sources.${r.source}`, { defaultValue: r.source }),
                rowHeader: true,
              },
              { header: t("col.rows"), cell: (r) => f.n(r.count), numeric: true },
            ]}
          />
        </Section>
      </div>

      <Section id="free-text" title={t("free_text.title")}>
        <DataTable
          caption={t("campaign.free_text_caption")}
          rows={data.freeText}
          rowKey={(r) => String(r.id)}
          empty={t("campaign.nobody_wrote")}
          columns={[
            {
              header: t("col.when"),
              cell: (r) => <span className="whitespace-nowrap">{f.dateTime(r.occurredAt)}</span>,
            },
            { header: t("col.reason"), cell: (r) => r.reasonLabel },
            {
              header: t("free_text.wrote"),
              cell: (r) => <span className="break-words">{r.text}</span>,
            },
          ]}
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
