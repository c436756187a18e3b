import { csvLine, csvStream, type CsvCell } from "~/csv/csv.server";
import type { Db } from "~/db/db.server";
import { CHANNELS } from "~/db/schema";
import { bucketsOf, type ReportFilter } from "~/reports/filters";
import { campaignsInRange, type CampaignRate } from "~/reports/campaigns.server";
import { fillBuckets, freeTextPage, getDashboard } from "~/reports/queries.server";
import type { RateRules } from "~/reports/rates";
import { SOURCE_LABELS } from "~/consent/labels";
import { undeliverableSourceRow } from "~/reports/email.server";

/**
 * CSV downloads of the report tables, with the page's filters. Streamed: each batch of rows is
 * written as it is read (free-text reasons page through the ledger; the campaign list reads its
 * campaigns 500 at a time). Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR at
 * the start) are prefixed with a quote: free text and campaign names come from outside.
 */
export const CSV_TABLES = [
  "over-time",
  "channels",
  "topics",
  "sources",
  "reasons",
  "campaigns",
  "free-text",
] as const;
export type CsvTable = (typeof CSV_TABLES)[number];

export function isCsvTable(value: string): value is CsvTable {
  return (CSV_TABLES as readonly string[]).includes(value);
}

type Cell = CsvCell;

/** A report table as a CSV download: a byte order mark, the header, then each batch of rows. */
function csvTable(
  header: string[],
  batches: () => AsyncGenerator<Cell[][]>,
): ReadableStream<Uint8Array> {
  async function* chunks(): AsyncGenerator<string> {
    yield csvLine(header);
    for await (const rows of batches()) yield rows.map((r) => csvLine(r)).join("");
  }
  return csvStream(chunks(), { bom: true });
}

function pct(rate: number | null): string {
  return rate === null ? "" : (rate * 100).toFixed(4);
}

function campaignCells(c: CampaignRate): Cell[] {
  return [
    c.key,
    c.name,
    c.channel,
    c.topic ?? "",
    c.createdAt,
    c.sentCount,
    c.unsubscribes,
    pct(c.rate),
    c.triggers.join(" "),
    c.alert?.firedAt ?? "",
    c.topReasons.map((r) => `${r.label} (${r.count})`).join("; "),
  ];
}

async function* campaignBatches(
  db: Db,
  filter: ReportFilter,
  rules: RateRules,
): AsyncGenerator<Cell[][]> {
  // All campaigns of the range, 500 at a time (each batch judged with its baselines).
  const { total } = await campaignsInRange(db, filter, rules, { limit: 0 });
  for (let offset = 0; offset < total; offset += 500) {
    const page = await campaignsInRange(db, filter, rules, { limit: 500, offset });
    yield page.rows.map(campaignCells);
    if (page.rows.length < 500) break;
  }
}

async function* freeTextBatches(db: Db, filter: ReportFilter): AsyncGenerator<Cell[][]> {
  let before: { occurredAt: Date; id: number } | undefined;
  for (;;) {
    const page = await freeTextPage(db, filter, 1000, before);
    yield page.map((r) => [
      r.occurredAt,
      r.channel,
      r.campaign ?? "",
      r.reasonCode ?? "",
      r.reasonLabel,
      r.text,
    ]);
    if (page.length < 1000) return;
    const last = page[page.length - 1]!;
    before = { occurredAt: new Date(last.occurredAt), id: last.id };
  }
}

export function csvFilename(table: CsvTable, filter: ReportFilter): string {
  const channel = filter.channel ? `-${filter.channel}` : "";
  return `heed-unsubscribes-${table}${channel}-${filter.from}_${filter.to}.csv`;
}

/** The CSV of one report table, as a stream. */
export async function reportCsv(
  db: Db,
  table: CsvTable,
  filter: ReportFilter,
  rules: RateRules,
): Promise<ReadableStream<Uint8Array>> {
  if (table === "campaigns") {
    return csvTable(
      [
        "campaign",
        "name",
        "channel",
        "topic",
        "registered_at",
        "sent",
        "unsubscribes",
        "rate_percent",
        "flags",
        "alert_fired_at",
        "top_reasons",
      ],
      () => campaignBatches(db, filter, rules),
    );
  }
  if (table === "free-text") {
    return csvTable(["occurred_at", "channel", "campaign", "reason_code", "reason", "text"], () =>
      freeTextBatches(db, filter),
    );
  }
  const d = await getDashboard(db, filter, rules, { campaignLimit: 0, freeTextLimit: 0 });
  const one = (header: string[], rows: Cell[][]) =>
    csvTable(header, async function* () {
      yield rows;
    });
  const channels = filter.channel ? [filter.channel] : [...CHANNELS];
  switch (table) {
    case "over-time":
      return one(
        [filter.granularity === "day" ? "day" : "week_starting", ...channels, "total"],
        fillBuckets(d.overTime, bucketsOf(filter)).map((r) => [
          r.bucket,
          ...channels.map((c) => r[c]),
          r.total,
        ]),
      );
    case "channels":
      return one(
        ["channel", "people_leaving", "unsubscribes", "topic_opt_outs", "changes"],
        d.byChannel.map((r) => [r.channel, r.people, r.unsubscribes, r.topicOptOuts, r.total]),
      );
    case "topics":
      return one(
        ["topic", "name", "people_leaving", "share_percent"],
        d.byTopic.map((r) => [r.topic ?? "", r.name, r.count, (r.share * 100).toFixed(2)]),
      );
    case "sources": {
      // Undeliverable marks (hard bounces) are listed like the page lists them: not leaving.
      const undeliverable = await undeliverableSourceRow(db, filter);
      return one(
        ["source", "label", "rows", "counted_as_leaving"],
        [...d.bySource, ...(undeliverable ? [undeliverable] : [])].map((r) => [
          r.source,
          SOURCE_LABELS[r.source] ?? r.source,
          r.count,
          r.counted ? "yes" : "no",
        ]),
      );
    }
    case "reasons":
      return one(
        ["reason_code", "reason", "people_leaving", "share_percent"],
        d.byReason.map((r) => [r.code ?? "", r.label, r.count, (r.share * 100).toFixed(2)]),
      );
  }
}
