import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  formatDateTime,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { CHANNELS } from "~/db/schema";
import { barsChart, campaignRatesChart, NARROW, overTimeChart } from "~/reports/charts.server";
import { ALERT_LOOKBACK_DAYS } from "~/reports/constants";
import { bucketsOf, filterQuery, parseReportFilter } from "~/reports/filters";
import { fillBuckets, getDashboard } from "~/reports/queries.server";
import { formatRate } from "~/reports/rates";
import { getAlertSettings, rulesOf } from "~/reports/settings.server";
import {
  complaintRates,
  getComplaintAlertSettings,
  undeliverableSourceRow,
} from "~/reports/email.server";
import { CHANNEL_LABELS, SOURCE_LABELS } from "~/consent/labels";
import {
  ChannelLegend,
  Chart,
  CsvLink,
  DataTable,
  FlagBadge,
  fmt,
  fmtShare,
  Stat,
} from "~/reports/ui/report-ui";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Reports · Heed admin" }];

/**
 * /admin/reports (agents and admins): why people leave. Filters are a GET form (no JavaScript
 * needed; the URL can be bookmarked and the CSV links carry it). Charts are SVG drawn on the
 * server; every chart has a table with the same numbers and a CSV download.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const { filter, errors } = parseReportFilter(new URL(request.url).searchParams);
  const db = getDb();
  const settings = await getAlertSettings(db);
  const d = await getDashboard(db, filter, rulesOf(settings));
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
    overTime: d.totals.leaving > 0 ? overTimeChart(overTime, channels) : "",
    reasons: barsChart(
      d.byReason.map((r) => ({ label: r.label, value: r.count, muted: r.code === null })),
      { width: NARROW },
    ),
    topics: barsChart(
      d.byTopic.map((r) => ({ label: r.name, value: r.count, muted: r.topic === null })),
      { width: NARROW },
    ),
    sources: barsChart(
      d.bySource.map((r) => ({
        label: SOURCE_LABELS[r.source] ?? r.source,
        value: r.count,
        muted: !r.counted,
      })),
    ),
    campaigns: campaignRatesChart(
      chartCampaigns.map((c) => ({ label: c.name, rate: c.rate!, flagged: c.triggers.length > 0 })),
      settings.thresholdPercent,
    ),
  };
  return json(
    {
      ...d,
      overTime,
      errors,
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
  const csv = (table: string) => `/admin/reports/csv/${table}?${query}`;
  const flagged = data.campaigns.rows.filter((c) => c.triggers.length > 0 || c.alert);
  const granularityWord = filter.granularity === "day" ? "day" : "week";

  return (
    <div>
      <PageHeader
        title="Reports"
        description="Why people leave: unsubscribes and topic opt-outs over time, by channel, topic, source, reason and campaign. People are counted once, however many channels they leave; days are UTC."
      >
        <Link to="/admin/reports/alerts" className={buttonClass.secondary}>
          Alerts{data.isAdmin ? " and settings" : ""}
        </Link>
      </PageHeader>

      <Form
        method="get"
        className="mb-6 grid gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-2 lg:grid-cols-5"
        aria-label="Report filters"
      >
        <div>
          <label htmlFor="r-from" className={labelClass}>
            From
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
            To
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
            Channel
          </label>
          <select
            id="r-channel"
            name="channel"
            defaultValue={filter.channel ?? "all"}
            className={`mt-1 ${inputClass}`}
          >
            <option value="all">All channels</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {CHANNEL_LABELS[c]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="r-granularity" className={labelClass}>
            Group by
          </label>
          <select
            id="r-granularity"
            name="granularity"
            defaultValue={filter.granularity}
            className={`mt-1 ${inputClass}`}
          >
            <option value="day">Day</option>
            <option value="week">Week (from Monday)</option>
          </select>
        </div>
        <div className="flex items-end gap-2">
          <button
            type="submit"
            className={buttonClass.primary}
            disabled={navigation.state === "loading"}
          >
            Show
          </button>
          <Link to="/admin/reports" className={buttonClass.secondary}>
            Reset
          </Link>
        </div>
      </Form>

      {data.errors.length > 0 ? (
        <Notice kind="error">
          <ul className="list-disc pl-5">
            {data.errors.map((e) => (
              <li key={e}>{e}</li>
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
            {flagged.length === 1 ? "1 campaign has" : `${flagged.length} campaigns have`} a high
            unsubscribe rate
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
                ({CHANNEL_LABELS[c.channel]}): {fmt(c.unsubscribes)} of {fmt(c.sentCount)} left,{" "}
                {formatRate(c.rate)}
                {c.triggers.includes("threshold")
                  ? ` — at or above the ${settings.thresholdPercent} % threshold`
                  : ""}
                {c.triggers.includes("outlier") && c.baseline
                  ? ` — far above the usual ${formatRate(c.baseline.mean)}`
                  : ""}
                {c.alert
                  ? `. Alert sent ${formatDateTime(c.alert.firedAt)}.`
                  : c.createdAt >= data.alertableSince
                    ? ". Alert pending (checked every minute)."
                    : `. No alert: alerts cover campaigns of the last ${ALERT_LOOKBACK_DAYS} days.`}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <dl className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-4" aria-label="Totals">
        <Stat
          label="People leaving"
          value={fmt(totals.leaving)}
          hint={`${filter.from} to ${filter.to}${
            totals.leaving > 0
              ? ` · ${data.byChannel
                  .filter((r) => r.people > 0)
                  .map((r) => `${CHANNEL_LABELS[r.channel]} ${fmt(r.people)}`)
                  .join(", ")}`
              : ""
          }`}
        />
        <Stat label="Channel unsubscribes" value={fmt(totals.unsubscribes)} />
        <Stat label="Topic opt-outs" value={fmt(totals.topicOptOuts)} />
        <Stat
          label="Imported suppressions"
          value={fmt(totals.notCounted)}
          hint="Not counted as people leaving"
        />
      </dl>

      <Section
        id="over-time"
        title={`People leaving per ${granularityWord}`}
        actions={<CsvLink href={csv("over-time")} what={`people leaving per ${granularityWord}`} />}
      >
        {totals.leaving > 0 ? (
          <>
            {channels.length > 1 ? <ChannelLegend channels={channels} /> : null}
            <Chart
              svg={charts.overTime}
              label={`people leaving per ${granularityWord}, by channel`}
              testId="chart-over-time"
            />
          </>
        ) : null}
        <DataTable
          caption={`People leaving per ${granularityWord}, by channel`}
          testId="table-over-time"
          scroll
          rows={totals.leaving > 0 ? data.overTime : []}
          rowKey={(r) => r.bucket}
          columns={[
            {
              header: filter.granularity === "day" ? "Day" : "Week from",
              cell: (r) => <span className="whitespace-nowrap">{r.bucket}</span>,
              rowHeader: true,
            },
            ...channels.map((c) => ({
              header: CHANNEL_LABELS[c],
              cell: (r: (typeof data.overTime)[number]) => fmt(r[c]),
              numeric: true,
            })),
            ...(channels.length > 1
              ? [
                  {
                    header: "People (all channels)",
                    cell: (r: (typeof data.overTime)[number]) => fmt(r.total),
                    numeric: true,
                  },
                ]
              : []),
          ]}
        />
      </Section>

      <Section
        id="by-channel"
        title="By channel"
        actions={<CsvLink href={csv("channels")} what="people leaving by channel" />}
      >
        <DataTable
          caption="People leaving by channel"
          testId="table-channels"
          rows={data.byChannel}
          rowKey={(r) => r.channel}
          columns={[
            { header: "Channel", cell: (r) => CHANNEL_LABELS[r.channel], rowHeader: true },
            { header: "People leaving", cell: (r) => fmt(r.people), numeric: true },
            { header: "Channel unsubscribes", cell: (r) => fmt(r.unsubscribes), numeric: true },
            { header: "Topic opt-outs", cell: (r) => fmt(r.topicOptOuts), numeric: true },
            { header: "Changes", cell: (r) => fmt(r.total), numeric: true },
          ]}
        />
      </Section>

      <div className="grid grid-cols-1 gap-x-6 lg:grid-cols-2">
        <Section
          id="by-reason"
          title="Why: reasons people gave"
          actions={<CsvLink href={csv("reasons")} what="reasons" />}
        >
          <Chart
            svg={charts.reasons}
            label="people leaving by reason"
            testId="chart-reasons"
            narrow
          />
          <DataTable
            caption="People leaving by reason"
            testId="table-reasons"
            rows={data.byReason}
            rowKey={(r) => r.code ?? "-"}
            columns={[
              { header: "Reason", cell: (r) => r.label, rowHeader: true },
              { header: "People", cell: (r) => fmt(r.count), numeric: true },
              { header: "Share", cell: (r) => fmtShare(r.share), numeric: true },
            ]}
          />
        </Section>

        <Section
          id="by-topic"
          title="By topic"
          actions={<CsvLink href={csv("topics")} what="topics" />}
        >
          <p className="mb-3 text-xs text-slate-600">
            The topic opted out of; for a channel unsubscribe, the topic of the campaign it came
            from.
          </p>
          <Chart svg={charts.topics} label="people leaving by topic" testId="chart-topics" narrow />
          <DataTable
            caption="People leaving by topic"
            testId="table-topics"
            rows={data.byTopic}
            rowKey={(r) => r.topic ?? "-"}
            columns={[
              { header: "Topic", cell: (r) => r.name, rowHeader: true },
              { header: "People", cell: (r) => fmt(r.count), numeric: true },
              { header: "Share", cell: (r) => fmtShare(r.share), numeric: true },
            ]}
          />
        </Section>
      </div>

      <Section
        id="by-source"
        title="By source"
        actions={<CsvLink href={csv("sources")} what="sources" />}
      >
        <p className="mb-3 text-xs text-slate-600">
          Where the unsubscribe came from. Imports load existing suppression lists: they are shown
          here but not counted as people leaving, nor in campaign rates.
        </p>
        <Chart svg={charts.sources} label="unsubscribes by source" testId="chart-sources" />
        <DataTable
          caption="Unsubscribes and topic opt-outs by source"
          testId="table-sources"
          rows={data.bySource}
          rowKey={(r) => r.source}
          columns={[
            { header: "Source", cell: (r) => SOURCE_LABELS[r.source] ?? r.source, rowHeader: true },
            { header: "Rows", cell: (r) => fmt(r.count), numeric: true },
            { header: "Counted as leaving", cell: (r) => (r.counted ? "Yes" : "No") },
          ]}
        />
      </Section>

      <Section
        id="campaigns"
        title="Campaigns"
        actions={<CsvLink href={csv("campaigns")} what="campaigns" />}
      >
        <p className="mb-3 text-xs text-slate-600">
          Campaigns registered in the range. Rate = distinct people on the campaign&apos;s channel
          who left through it (whenever they did) ÷ sent. The dashed line is the{" "}
          {settings.thresholdPercent} % alert threshold (campaigns of at least{" "}
          {fmt(settings.minSent)} sent); red bars are flagged. Complaint rate (email) = distinct
          people who reported the campaign as spam ÷ sent; it alerts at{" "}
          {data.complaintThresholdPercent} %.
        </p>
        {data.chartCampaignCount > 0 ? (
          <Chart
            svg={charts.campaigns}
            label={`unsubscribe rate of the ${data.chartCampaignCount} latest campaigns`}
            testId="chart-campaigns"
          />
        ) : null}
        <DataTable
          caption="Campaigns with their unsubscribe rate"
          testId="table-campaigns"
          rows={data.campaigns.rows}
          rowKey={(r) => r.key}
          rowClass={(r) => (r.triggers.length > 0 ? "bg-red-50" : "")}
          empty="No campaigns were registered in this range."
          columns={[
            {
              header: "Campaign",
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
                    {r.key} · {formatDateTime(r.createdAt)}
                  </span>
                </>
              ),
            },
            { header: "Channel", cell: (r) => CHANNEL_LABELS[r.channel] },
            { header: "Sent", cell: (r) => fmt(r.sentCount), numeric: true },
            { header: "Unsubscribes", cell: (r) => fmt(r.unsubscribes), numeric: true },
            { header: "Rate", cell: (r) => formatRate(r.rate), numeric: true },
            {
              header: "Complaints",
              cell: (r) =>
                r.channel === "email" ? fmt(data.complaints[r.key]?.complaints ?? 0) : "—",
              numeric: true,
            },
            {
              header: "Complaint rate",
              cell: (r) => {
                const c = data.complaints[r.key];
                if (!c || c.rate === null) return "—";
                const high = c.rate * 100 >= data.complaintThresholdPercent;
                return (
                  <span className={high ? "font-semibold text-red-800" : undefined}>
                    {formatRate(c.rate)}
                    {high ? " (high)" : ""}
                  </span>
                );
              },
              numeric: true,
            },
            {
              header: "Top reasons",
              cell: (r) =>
                r.topReasons.length === 0 ? (
                  <span className="text-slate-500">—</span>
                ) : (
                  r.topReasons.map((x) => `${x.label} (${fmt(x.count)})`).join(", ")
                ),
            },
            { header: "Flag", cell: (r) => <FlagBadge triggers={r.triggers} /> },
          ]}
        />
        {data.campaigns.total > data.campaigns.rows.length ? (
          <p className="mt-2 text-sm text-slate-700">
            Showing the latest {fmt(data.campaigns.rows.length)} of {fmt(data.campaigns.total)}{" "}
            campaigns; the CSV has all of them.
          </p>
        ) : null}
      </Section>

      <Section
        id="free-text"
        title="In their own words"
        actions={<CsvLink href={csv("free-text")} what="free-text reasons" />}
      >
        <DataTable
          caption="The latest free-text reasons"
          testId="table-free-text"
          rows={data.freeText}
          rowKey={(r) => String(r.id)}
          empty="Nobody wrote a reason in this range."
          columns={[
            {
              header: "When",
              cell: (r) => (
                <span className="whitespace-nowrap">{formatDateTime(r.occurredAt)}</span>
              ),
            },
            { header: "Channel", cell: (r) => CHANNEL_LABELS[r.channel] },
            {
              header: "Campaign",
              cell: (r) => r.campaign ?? <span className="text-slate-500">—</span>,
            },
            { header: "Reason", cell: (r) => r.reasonLabel },
            {
              header: "What they wrote",
              cell: (r) => <span className="break-words">{r.text}</span>,
            },
          ]}
        />
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
