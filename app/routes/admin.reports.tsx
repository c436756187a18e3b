import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { CHANNELS } from "~/db/schema";
import { barsChart, campaignRatesChart, NARROW, overTimeChart } from "~/reports/charts.server";
import { ALERT_LOOKBACK_DAYS } from "~/reports/constants";
import { bucketsOf, filterQuery, parseReportFilter } from "~/reports/filters";
import { localLabels } from "~/reports/labels.server";
import { fillBuckets, getDashboard } from "~/reports/queries.server";
import { getAlertSettings, rulesOf } from "~/reports/settings.server";
import {
  complaintRates,
  getComplaintAlertSettings,
  undeliverableSourceRow,
} from "~/reports/email.server";
import {
  ChannelLegend,
  Chart,
  CsvLink,
  DataTable,
  FlagBadge,
  Stat,
  useReportFormat,
} from "~/reports/ui/report-ui";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Reports") },
];

/**
 * /admin/reports (agents and admins): why people leave. Filters are a GET form (no JavaScript
 * needed; the URL can be bookmarked and the CSV links carry it). Charts are SVG drawn on the
 * server; every chart has a table with the same numbers and a CSV download.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const locale = negotiateLocale(request);
  const { filter, problems } = parseReportFilter(new URL(request.url).searchParams);
  const db = getDb();
  const [settings, labels] = await Promise.all([getAlertSettings(db), localLabels(db, locale)]);
  const d = await getDashboard(db, filter, rulesOf(settings));
  // The dashboard names reasons, topics and sources in English; the page, in the operator's language.
  d.byReason = d.byReason.map((r) => ({ ...r, label: labels.reason(r.code) }));
  d.byTopic = d.byTopic.map((r) => ({ ...r, name: labels.topic(r.topic) }));
  d.freeText = d.freeText.map((r) => ({ ...r, reasonLabel: labels.reason(r.reasonCode) }));
  d.campaigns.rows = d.campaigns.rows.map((c) => ({
    ...c,
    topReasons: c.topReasons.map((x) => ({ ...x, label: labels.reason(x.code) })),
  }));
  // Email providers' side: complaint rates per campaign, undeliverable marks by source.
  const [complaints, complaintSettings, undeliverableRow] = await Promise.all([
    complaintRates(db, d.campaigns.rows),
    getComplaintAlertSettings(db),
    undeliverableSourceRow(db, filter),
  ]);
  if (undeliverableRow) d.bySource = [...d.bySource, undeliverableRow];
  const channels = filter.channel ? [filter.channel] : [...CHANNELS];
  const overTime = fillBuckets(d.overTime, bucketsOf(filter));
  const chartCampaigns = d.campaigns.rows.filter((c) => c.rate !== null).slice(0, 15);
  const charts = {
    overTime: d.totals.leaving > 0 ? overTimeChart(overTime, channels, locale) : "",
    reasons: barsChart(
      d.byReason.map((r) => ({ label: r.label, value: r.count, muted: r.code === null })),
      { width: NARROW, locale },
    ),
    topics: barsChart(
      d.byTopic.map((r) => ({ label: r.name, value: r.count, muted: r.topic === null })),
      { width: NARROW, locale },
    ),
    sources: barsChart(
      d.bySource.map((r) => ({
        label: labels.source(r.source),
        value: r.count,
        muted: !r.counted,
      })),
      { locale },
    ),
    campaigns: campaignRatesChart(
      chartCampaigns.map((c) => ({ label: c.name, rate: c.rate!, flagged: c.triggers.length > 0 })),
      settings.thresholdPercent,
      locale,
    ),
  };
  return json(
    {
      ...d,
      i18n: i18nPayload(locale, ["reports", "labels"]),
      title: getFixedT(locale, "reports")("title"),
      overTime,
      problems,
      channels,
      charts,
      chartCampaignCount: chartCampaigns.length,
      query: filterQuery(filter),
      // Campaigns registered before this are out of the alert task's window.
      alertableSince: new Date(Date.now() - ALERT_LOOKBACK_DAYS * 86_400_000).toISOString(),
      complaints,
      complaintThresholdPercent: complaintSettings.thresholdPercent,
      settings: {
        thresholdPercent: settings.thresholdPercent,
        minSent: settings.minSent,
        sigmas: settings.sigmas,
      },
      isAdmin: user.role === "admin",
    },
    { headers: NO_STORE },
  );
}

export default function Reports() {
  const data = useLoaderData<typeof loader>();
  const { filter, totals, charts, channels, query, settings } = data;
  const navigation = useNavigation();
  const t = useT("reports");
  const tc = useT("common");
  const tl = useT("labels");
  const f = useReportFormat();
  const channel = (c: string) => tc(`channels.${c}`);
  const source = (s: string) => tl(`sources.${s}`, { defaultValue: s.replace(/_/g, " ") });
  const csv = (table: string) => `/admin/reports/csv/${table}?${query}`;
  const flagged = data.campaigns.rows.filter((c) => c.triggers.length > 0 || c.alert);
  const per = filter.granularity === "day" ? "day" : "week";

  return (
    <div>
      <PageHeader title={t("title")} description={t("description")}>
        <Link to="/admin/reports/alerts" className={buttonClass.secondary}>
          {data.isAdmin ? t("alerts_and_settings_link") : t("alerts_link")}
        </Link>
      </PageHeader>

      <Form
        method="get"
        className="mb-6 grid gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-2 lg:grid-cols-5"
        aria-label={t("filter.label")}
      >
        <div>
          <label htmlFor="r-from" className={labelClass}>
            {t("filter.from")}
          </label>
          <input
            id="r-from"
            name="from"
            type="date"
            defaultValue={filter.from}
            className={`mt-1 ${inputClass}`}
          />
        </div>
        <div>
          <label htmlFor="r-to" className={labelClass}>
            {t("filter.to")}
          </label>
          <input
            id="r-to"
            name="to"
            type="date"
            defaultValue={filter.to}
            className={`mt-1 ${inputClass}`}
          />
        </div>
        <div>
          <label htmlFor="r-channel" className={labelClass}>
            {t("filter.channel")}
          </label>
          <select
            id="r-channel"
            name="channel"
            defaultValue={filter.channel ?? "all"}
            className={`mt-1 ${inputClass}`}
          >
            <option value="all">{t("filter.all_channels")}</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {channel(c)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="r-granularity" className={labelClass}>
            {t("filter.group_by")}
          </label>
          <select
            id="r-granularity"
            name="granularity"
            defaultValue={filter.granularity}
            className={`mt-1 ${inputClass}`}
          >
            <option value="day">{t("filter.day")}</option>
            <option value="week">{t("filter.week")}</option>
          </select>
        </div>
        <div className="flex items-end gap-2">
          <button
            type="submit"
            className={buttonClass.primary}
            disabled={navigation.state === "loading"}
          >
            {t("filter.show")}
          </button>
          <Link to="/admin/reports" className={buttonClass.secondary}>
            {t("filter.reset")}
          </Link>
        </div>
      </Form>

      {data.problems.length > 0 ? (
        <Notice kind="error">
          <ul className="list-disc pl-5">
            {data.problems.map((p) => (
              <li key={p.code}>{t(`filter.problem.${p.code}`, { max: p.max })}</li>
            ))}
          </ul>
        </Notice>
      ) : null}

      {flagged.length > 0 ? (
        <section
          aria-labelledby="flagged-title"
          className="mb-6 rounded-lg border border-red-300 bg-red-50 p-4"
          data-testid="flagged-campaigns"
        >
          <h2 id="flagged-title" className="text-lg font-semibold text-red-900">
            {t("flagged.title", { count: flagged.length })}
          </h2>
          <ul className="mt-2 space-y-1 text-sm text-red-950">
            {flagged.map((c) => (
              <li key={c.key}>
                <Link
                  to={`/admin/reports/campaigns/${encodeURIComponent(c.key)}?${query}`}
                  className="font-medium underline"
                >
                  {c.name}
                </Link>{" "}
                {t("flagged.line", {
                  channel: channel(c.channel),
                  left: f.n(c.unsubscribes),
                  sent: f.n(c.sentCount),
                  rate: f.rate(c.rate),
                })}
                {c.triggers.includes("threshold")
                  ? t("flagged.threshold", { threshold: f.percent(settings.thresholdPercent) })
                  : ""}
                {c.triggers.includes("outlier") && c.baseline
                  ? t("flagged.outlier", { mean: f.rate(c.baseline.mean) })
                  : ""}
                {c.alert
                  ? t("flagged.alert_sent", { when: f.dateTime(c.alert.firedAt) })
                  : c.createdAt >= data.alertableSince
                    ? t("flagged.alert_pending")
                    : t("flagged.no_alert", { days: ALERT_LOOKBACK_DAYS })}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <dl className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-4" aria-label={t("totals.label")}>
        <Stat
          label={t("totals.leaving")}
          value={f.n(totals.leaving)}
          hint={`${t("totals.range", { from: filter.from, to: filter.to })}${
            totals.leaving > 0
              ? ` · ${data.byChannel
                  .filter((r) => r.people > 0)
                  .map((r) => `${channel(r.channel)} ${f.n(r.people)}`)
                  .join(", ")}`
              : ""
          }`}
        />
        <Stat label={t("totals.unsubscribes")} value={f.n(totals.unsubscribes)} />
        <Stat label={t("totals.topic_opt_outs")} value={f.n(totals.topicOptOuts)} />
        <Stat
          label={t("totals.imported")}
          value={f.n(totals.notCounted)}
          hint={t("totals.imported_hint")}
        />
      </dl>

      <Section
        id="over-time"
        title={t(`over_time.title_${per}`)}
        actions={<CsvLink href={csv("over-time")} what={t(`over_time.csv_${per}`)} />}
      >
        {totals.leaving > 0 ? (
          <>
            {channels.length > 1 ? <ChannelLegend channels={channels} /> : null}
            <Chart
              svg={charts.overTime}
              label={t(`over_time.chart_${per}`)}
              testId="chart-over-time"
            />
          </>
        ) : null}
        <DataTable
          caption={t(`over_time.caption_${per}`)}
          testId="table-over-time"
          scroll
          rows={totals.leaving > 0 ? data.overTime : []}
          rowKey={(r) => r.bucket}
          columns={[
            {
              header: per === "day" ? t("over_time.day") : t("over_time.week_from"),
              cell: (r) => <span className="whitespace-nowrap">{r.bucket}</span>,
              rowHeader: true,
            },
            ...channels.map((c) => ({
              header: channel(c),
              cell: (r: (typeof data.overTime)[number]) => f.n(r[c]),
              numeric: true,
            })),
            ...(channels.length > 1
              ? [
                  {
                    header: t("over_time.all_channels"),
                    cell: (r: (typeof data.overTime)[number]) => f.n(r.total),
                    numeric: true,
                  },
                ]
              : []),
          ]}
        />
      </Section>

      <Section
        id="by-channel"
        title={t("by_channel.title")}
        actions={<CsvLink href={csv("channels")} what={t("by_channel.csv")} />}
      >
        <DataTable
          caption={t("by_channel.caption")}
          testId="table-channels"
          rows={data.byChannel}
          rowKey={(r) => r.channel}
          columns={[
            { header: t("col.channel"), cell: (r) => channel(r.channel), rowHeader: true },
            { header: t("totals.leaving"), cell: (r) => f.n(r.people), numeric: true },
            { header: t("totals.unsubscribes"), cell: (r) => f.n(r.unsubscribes), numeric: true },
            { header: t("totals.topic_opt_outs"), cell: (r) => f.n(r.topicOptOuts), numeric: true },
            { header: t("col.changes"), cell: (r) => f.n(r.total), numeric: true },
          ]}
        />
      </Section>

      <div className="grid grid-cols-1 gap-x-6 lg:grid-cols-2">
        <Section
          id="by-reason"
          title={t("by_reason.title")}
          actions={<CsvLink href={csv("reasons")} what={t("by_reason.csv")} />}
        >
          <Chart svg={charts.reasons} label={t("by_reason.chart")} testId="chart-reasons" narrow />
          <DataTable
            caption={t("by_reason.caption")}
            testId="table-reasons"
            rows={data.byReason}
            rowKey={(r) => r.code ?? "-"}
            columns={[
              { header: t("col.reason"), cell: (r) => r.label, rowHeader: true },
              { header: t("col.people"), cell: (r) => f.n(r.count), numeric: true },
              { header: t("col.share"), cell: (r) => f.share(r.share), numeric: true },
            ]}
          />
        </Section>

        <Section
          id="by-topic"
          title={t("by_topic.title")}
          actions={<CsvLink href={csv("topics")} what={t("by_topic.csv")} />}
        >
          <p className="mb-3 text-xs text-slate-600">{t("by_topic.hint")}</p>
          <Chart svg={charts.topics} label={t("by_topic.chart")} testId="chart-topics" narrow />
          <DataTable
            caption={t("by_topic.caption")}
            testId="table-topics"
            rows={data.byTopic}
            rowKey={(r) => r.topic ?? "-"}
            columns={[
              { header: t("col.topic"), cell: (r) => r.name, rowHeader: true },
              { header: t("col.people"), cell: (r) => f.n(r.count), numeric: true },
              { header: t("col.share"), cell: (r) => f.share(r.share), numeric: true },
            ]}
          />
        </Section>
      </div>

      <Section
        id="by-source"
        title={t("by_source.title")}
        actions={<CsvLink href={csv("sources")} what={t("by_source.csv")} />}
      >
        <p className="mb-3 text-xs text-slate-600">{t("by_source.hint")}</p>
        <Chart svg={charts.sources} label={t("by_source.chart")} testId="chart-sources" />
        <DataTable
          caption={t("by_source.caption")}
          testId="table-sources"
          rows={data.bySource}
          rowKey={(r) => r.source}
          columns={[
            { header: t("col.source"), cell: (r) => source(r.source), rowHeader: true },
            { header: t("col.rows"), cell: (r) => f.n(r.count), numeric: true },
            {
              header: t("by_source.counted"),
              cell: (r) => (r.counted ? t("yes") : t("no")),
            },
          ]}
        />
      </Section>

      <Section
        id="campaigns"
        title={t("campaigns.title")}
        actions={<CsvLink href={csv("campaigns")} what={t("campaigns.csv")} />}
      >
        <p className="mb-3 text-xs text-slate-600">
          {t("campaigns.hint", {
            threshold: f.percent(settings.thresholdPercent),
            minSent: f.n(settings.minSent),
            complaintThreshold: f.percent(data.complaintThresholdPercent),
          })}
        </p>
        {data.chartCampaignCount > 0 ? (
          <Chart
            svg={charts.campaigns}
            label={t("campaigns.chart", { n: f.n(data.chartCampaignCount) })}
            testId="chart-campaigns"
          />
        ) : null}
        <DataTable
          caption={t("campaigns.caption")}
          testId="table-campaigns"
          rows={data.campaigns.rows}
          rowKey={(r) => r.key}
          rowClass={(r) => (r.triggers.length > 0 ? "bg-red-50" : "")}
          empty={t("campaigns.empty")}
          columns={[
            {
              header: t("col.campaign"),
              rowHeader: true,
              cell: (r) => (
                <>
                  <Link
                    className={buttonClass.link}
                    to={`/admin/reports/campaigns/${encodeURIComponent(r.key)}?${query}`}
                  >
                    {r.name}
                  </Link>
                  <span className="block text-xs font-normal text-slate-600">
                    {r.key} · {f.dateTime(r.createdAt)}
                  </span>
                </>
              ),
            },
            { header: t("col.channel"), cell: (r) => channel(r.channel) },
            { header: t("col.sent"), cell: (r) => f.n(r.sentCount), numeric: true },
            { header: t("col.unsubscribes"), cell: (r) => f.n(r.unsubscribes), numeric: true },
            { header: t("col.rate"), cell: (r) => f.rate(r.rate), numeric: true },
            {
              header: t("col.complaints"),
              cell: (r) =>
                r.channel === "email" ? f.n(data.complaints[r.key]?.complaints ?? 0) : "—",
              numeric: true,
            },
            {
              header: t("col.complaint_rate"),
              cell: (r) => {
                const c = data.complaints[r.key];
                if (!c || c.rate === null) return "—";
                const high = c.rate * 100 >= data.complaintThresholdPercent;
                return (
                  <span className={high ? "font-semibold text-red-800" : undefined}>
                    {f.rate(c.rate)}
                    {high ? ` ${t("campaigns.high")}` : ""}
                  </span>
                );
              },
              numeric: true,
            },
            {
              header: t("col.top_reasons"),
              cell: (r) =>
                r.topReasons.length === 0 ? (
                  <span className="text-slate-500">—</span>
                ) : (
                  r.topReasons.map((x) => `${x.label} (${f.n(x.count)})`).join(", ")
                ),
            },
            { header: t("col.flag"), cell: (r) => <FlagBadge triggers={r.triggers} /> },
          ]}
        />
        {data.campaigns.total > data.campaigns.rows.length ? (
          <p className="mt-2 text-sm text-slate-700">
            {t("campaigns.more", {
              shown: f.n(data.campaigns.rows.length),
              total: f.n(data.campaigns.total),
            })}
          </p>
        ) : null}
      </Section>

      <Section
        id="free-text"
        title={t("free_text.title")}
        actions={<CsvLink href={csv("free-text")} what={t("free_text.csv")} />}
      >
        <DataTable
          caption={t("free_text.caption")}
          testId="table-free-text"
          rows={data.freeText}
          rowKey={(r) => String(r.id)}
          empty={t("free_text.empty")}
          columns={[
            {
              header: t("col.when"),
              cell: (r) => <span className="whitespace-nowrap">{f.dateTime(r.occurredAt)}</span>,
            },
            { header: t("col.channel"), cell: (r) => channel(r.channel) },
            {
              header: t("col.campaign"),
              cell: (r) => r.campaign ?? <span className="text-slate-500">—</span>,
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
