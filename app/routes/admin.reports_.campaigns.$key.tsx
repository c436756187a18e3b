import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  formatDateTime,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { barsChart, dailyChart, NARROW } from "~/reports/charts.server";
import { ALERT_LOOKBACK_DAYS } from "~/reports/constants";
import { filterQuery, parseReportFilter } from "~/reports/filters";
import { getCampaignReport } from "~/reports/campaigns.server";
import { complaintRates, getComplaintAlertSettings } from "~/reports/email.server";
import { formatRate } from "~/reports/rates";
import { getAlertSettings, rulesOf } from "~/reports/settings.server";
import { CHANNEL_LABELS, SOURCE_LABELS } from "~/consent/labels";
import { Chart, DataTable, FlagBadge, fmt, fmtShare, Stat } from "~/reports/ui/report-ui";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.campaign.name ?? "Campaign"} · Reports · Heed admin` },
];

/** /admin/reports/campaigns/{key}: one campaign's rate, reasons, sources, days and free text. */
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const key = params.key ?? "";
  const db = getDb();
  const settings = await getAlertSettings(db);
  const report = key.length <= 200 ? await getCampaignReport(db, key, rulesOf(settings)) : null;
  if (!report) {
    throw new Response(`There is no campaign with the key "${key.slice(0, 80)}".`, { status: 404 });
  }
  const [complaints, complaintSettings] = await Promise.all([
    complaintRates(db, [report.campaign]),
    getComplaintAlertSettings(db),
  ]);
  // Back to the dashboard with the filters it had.
  const { filter } = parseReportFilter(new URL(request.url).searchParams);
  return json(
    {
      ...report,
      back: `/admin/reports?${filterQuery(filter)}`,
      thresholdPercent: settings.thresholdPercent,
      complaints: complaints[report.campaign.key]!,
      complaintThresholdPercent: complaintSettings.thresholdPercent,
      alertableSince: new Date(Date.now() - ALERT_LOOKBACK_DAYS * 86_400_000).toISOString(),
      minSent: settings.minSent,
      charts: {
        daily: dailyChart(report.daily),
        reasons: barsChart(
          report.reasons.map((r) => ({ label: r.label, value: r.count, muted: r.code === null })),
          { width: NARROW },
        ),
      },
    },
    { headers: NO_STORE },
  );
}

export default function CampaignReport() {
  const data = useLoaderData<typeof loader>();
  const c = data.campaign;
  return (
    <div>
      <p className="mb-2">
        <Link to={data.back} className={buttonClass.link}>
          ← Reports
        </Link>
      </p>
      <PageHeader
        title={c.name}
        description={`${c.key} · ${CHANNEL_LABELS[c.channel]}${c.topic ? ` · topic ${c.topic}` : ""} · registered ${formatDateTime(c.createdAt)}`}
      />

      {c.triggers.length > 0 || c.alert ? (
        <div
          role="status"
          className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-950"
          data-testid="campaign-flag"
        >
          <p className="font-medium">This campaign&apos;s unsubscribe rate is high.</p>
          <ul className="mt-1 list-disc pl-5">
            {c.triggers.includes("threshold") ? (
              <li>
                {formatRate(c.rate)} is at or above the {data.thresholdPercent} % threshold.
              </li>
            ) : null}
            {c.triggers.includes("outlier") && c.baseline ? (
              <li>
                It is far above this sender&apos;s usual {formatRate(c.baseline.mean)} on{" "}
                {CHANNEL_LABELS[c.channel]} (over {c.baseline.campaigns} campaigns; the limit is{" "}
                {formatRate(c.baseline.limit)}).
              </li>
            ) : null}
            <li>
              {c.alert
                ? `Alert sent ${formatDateTime(c.alert.firedAt)}.`
                : c.createdAt >= data.alertableSince
                  ? "The alert goes out within a minute."
                  : `No alert: alerts cover campaigns of the last ${ALERT_LOOKBACK_DAYS} days.`}
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
            This campaign&apos;s spam complaint rate ({formatRate(data.complaints.rate)}) reached
            the {data.complaintThresholdPercent} % threshold.
          </p>
          <p>Alert sent {formatDateTime(data.complaints.alert.firedAt)}.</p>
        </div>
      ) : null}

      <dl className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-4">
        <Stat label="Sent" value={fmt(c.sentCount)} />
        <Stat
          label="People who left"
          value={fmt(c.unsubscribes)}
          hint="Distinct addresses, whole life of the campaign"
        />
        <Stat
          label="Unsubscribe rate"
          value={formatRate(c.rate)}
          hint={
            c.sentCount < data.minSent ? `Under ${fmt(data.minSent)} sent: no alerts` : undefined
          }
        />
        {c.channel === "email" ? (
          <Stat
            label="Spam complaint rate"
            value={formatRate(data.complaints.rate)}
            hint={`${fmt(data.complaints.complaints)} people reported it as spam; alert at ${data.complaintThresholdPercent} %`}
          />
        ) : null}
        <Stat
          label="Usual rate on this channel"
          value={c.baseline ? formatRate(c.baseline.mean) : "—"}
          hint={
            c.baseline
              ? `Mean of the previous ${c.baseline.campaigns} campaigns`
              : "Not enough earlier campaigns"
          }
        />
      </dl>
      {c.triggers.length > 0 ? (
        <p className="-mt-4 mb-6">
          <FlagBadge triggers={c.triggers} />
        </p>
      ) : null}

      <Section id="daily" title="People leaving per day">
        <Chart
          svg={data.charts.daily}
          label="people leaving per day through this campaign"
          testId="chart-daily"
        />
        <DataTable
          caption="People leaving per day through this campaign"
          scroll
          rows={data.daily}
          rowKey={(r) => r.day}
          empty="Nobody has left through this campaign."
          columns={[
            {
              header: "Day",
              cell: (r) => <span className="whitespace-nowrap">{r.day}</span>,
              rowHeader: true,
            },
            { header: "People", cell: (r) => fmt(r.count), numeric: true },
          ]}
        />
      </Section>

      <div className="grid grid-cols-1 gap-x-6 lg:grid-cols-2">
        <Section id="reasons" title="Reasons">
          <Chart
            svg={data.charts.reasons}
            label="reasons given"
            testId="chart-campaign-reasons"
            narrow
          />
          <DataTable
            caption="Reasons given by people who left through this campaign"
            rows={data.reasons}
            rowKey={(r) => r.code ?? "-"}
            empty="Nobody has left through this campaign."
            columns={[
              { header: "Reason", cell: (r) => r.label, rowHeader: true },
              { header: "People", cell: (r) => fmt(r.count), numeric: true },
              { header: "Share", cell: (r) => fmtShare(r.share), numeric: true },
            ]}
          />
        </Section>
        <Section id="sources" title="Sources">
          <DataTable
            caption="Where the unsubscribes came from"
            rows={data.sources}
            rowKey={(r) => r.source}
            empty="No unsubscribes."
            columns={[
              {
                header: "Source",
                cell: (r) => SOURCE_LABELS[r.source] ?? r.source,
                rowHeader: true,
              },
              { header: "Rows", cell: (r) => fmt(r.count), numeric: true },
            ]}
          />
        </Section>
      </div>

      <Section id="free-text" title="In their own words">
        <DataTable
          caption="What people who left wrote, newest first"
          rows={data.freeText}
          rowKey={(r) => String(r.id)}
          empty="Nobody wrote a reason."
          columns={[
            {
              header: "When",
              cell: (r) => (
                <span className="whitespace-nowrap">{formatDateTime(r.occurredAt)}</span>
              ),
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
