import { sql } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { csvDownloadHeaders, csvLine, csvStream } from "~/csv/csv.server";
import type { Db } from "~/db/db.server";
import type { Channel, ConsentSource } from "~/db/schema";

/**
 * The suppressions export (docs/admin.md): every address that is unsubscribed on a channel, as CSV,
 * streamed straight from the database in keyset-paginated pages (over the partial index
 * channel_consent_suppressed_idx), so memory stays flat whatever the size. Used by the admin
 * download (/admin/exports) and reusable by GET /api/v1/suppressions.csv.
 *
 * Columns: address, channel, date (of the latest unsubscribe, ISO 8601 UTC), source, reason
 * (code), reason_text (free text), campaign, note. Erased addresses exist only as a keyed hash
 * and are not exported (there is nothing a sender could match them with).
 */

export type SuppressionExportFilter = {
  channel?: Channel | null;
  /** Unsubscribed at or after this instant. */
  from?: Date | null;
  /** Unsubscribed before this instant. */
  to?: Date | null;
  source?: ConsentSource | null;
};

export type SuppressionCsvOptions = {
  /** Rows per database page (default 5,000). */
  batchSize?: number;
  /**
   * Prefix free-text cells that a spreadsheet would run as a formula (=, +, -, @) with an
   * apostrophe (default true; addresses are never changed). Machine consumers may turn it off.
   */
  spreadsheetSafe?: boolean;
  /** Write the header row (default true). */
  header?: boolean;
};

export const SUPPRESSION_CSV_COLUMNS = [
  "address",
  "channel",
  "date",
  "source",
  "reason",
  "reason_text",
  "campaign",
  "note",
] as const;

export type SuppressionRow = {
  cursor: number;
  address: string;
  channel: Channel;
  date: Date | null;
  source: ConsentSource | null;
  reason: string | null;
  reasonText: string | null;
  campaign: string | null;
  note: string | null;
};

/** One page of suppressions after `after` (the previous page's last cursor; 0 to start). */
export async function suppressionPage(
  db: Db,
  filter: SuppressionExportFilter,
  after: number,
  limit: number,
): Promise<SuppressionRow[]> {
  const { rows } = await sql<{
    cursor: number;
    address: string;
    channel: Channel;
    occurred_at: Date | null;
    source: ConsentSource | null;
    reason_code: string | null;
    reason_text: string | null;
    campaign: string | null;
    note: string | null;
  }>`
    select cc.last_ledger_id as cursor, cc.address, cc.channel, u.occurred_at, u.source,
      u.reason_code, u.reason_text, u.campaign, u.details ->> 'note' as note
    from channel_consent cc
    left join lateral (
      select l.occurred_at, l.source, l.reason_code, l.reason_text, l.campaign, l.details
      from consent_ledger l
      where l.channel = cc.channel and l.address_hash = cc.address_hash and l.action = 'unsubscribe'
      order by l.id desc
      limit 1
    ) u on true
    where cc.status = 'unsubscribed'
      and cc.last_ledger_id > ${after}
      and cc.address is not null
      ${filter.channel ? sql`and cc.channel = ${filter.channel}` : sql``}
      ${filter.source ? sql`and u.source = ${filter.source}` : sql``}
      ${filter.from ? sql`and u.occurred_at >= ${filter.from}` : sql``}
      ${filter.to ? sql`and u.occurred_at < ${filter.to}` : sql``}
    order by cc.last_ledger_id
    limit ${limit}
  `.execute(db);
  return rows.map((r) => ({
    cursor: Number(r.cursor),
    address: r.address,
    channel: r.channel,
    date: r.occurred_at,
    source: r.source,
    reason: r.reason_code,
    reasonText: r.reason_text,
    campaign: r.campaign,
    note: r.note,
  }));
}

export function suppressionCsvLine(row: SuppressionRow, spreadsheetSafe = true): string {
  return csvLine(
    [
      row.address,
      row.channel,
      row.date ? row.date.toISOString() : "",
      row.source ?? "",
      row.reason,
      row.reasonText,
      row.campaign,
      row.note,
    ],
    // The address and the values Heed wrote itself are never changed; the rest is defused.
    spreadsheetSafe ? [0, 1, 2, 3] : [0, 1, 2, 3, 4, 5, 6, 7],
  );
}

/** The CSV as text chunks (one per page), header first; lines end with CRLF (RFC 4180). */
export async function* suppressionCsvChunks(
  db: Db,
  filter: SuppressionExportFilter = {},
  options: SuppressionCsvOptions = {},
): AsyncGenerator<string> {
  const limit = Math.min(Math.max(options.batchSize ?? 5_000, 1), 50_000);
  const safe = options.spreadsheetSafe ?? true;
  if (options.header ?? true) yield `${SUPPRESSION_CSV_COLUMNS.join(",")}\r\n`;
  let after = 0;
  for (;;) {
    const rows = await suppressionPage(db, filter, after, limit);
    if (rows.length === 0) return;
    yield rows.map((r) => suppressionCsvLine(r, safe)).join("");
    if (rows.length < limit) return;
    after = rows[rows.length - 1]!.cursor;
  }
}

/**
 * The CSV as a web ReadableStream for a Response body: the next page is read only when the
 * client has taken the previous one (backpressure), and a cancelled download stops the queries.
 *
 *   return new Response(suppressionCsvStream(getDb(), filter), { headers: suppressionCsvHeaders(filter) });
 */
export function suppressionCsvStream(
  db: Db,
  filter: SuppressionExportFilter = {},
  options: SuppressionCsvOptions = {},
): ReadableStream<Uint8Array> {
  return csvStream(suppressionCsvChunks(db, filter, options));
}

/** An admin downloads the suppressions export: audited (with the filter), then streamed. */
export async function exportSuppressions(
  db: Db,
  filter: SuppressionExportFilter,
  by: AuditContext,
  details: Record<string, unknown>,
): Promise<ReadableStream<Uint8Array>> {
  await audit(db, { ...by, action: "suppressions.export", details });
  return suppressionCsvStream(db, filter);
}

export function suppressionCsvFilename(filter: SuppressionExportFilter, now = new Date()): string {
  const parts = ["suppressions", filter.channel ?? "all"];
  if (filter.source) parts.push(filter.source);
  parts.push(now.toISOString().slice(0, 10));
  return `${parts.join("-")}.csv`;
}

export function suppressionCsvHeaders(filter: SuppressionExportFilter): Record<string, string> {
  return csvDownloadHeaders(suppressionCsvFilename(filter));
}

/** How many exportable suppressions each channel has (for the export page). */
export async function suppressionCounts(db: Db): Promise<Record<Channel, number>> {
  const rows = await db
    .selectFrom("channel_consent")
    .select(["channel", sql<number>`count(*)::int`.as("n")])
    .where("status", "=", "unsubscribed")
    .where("address", "is not", null)
    .groupBy("channel")
    .execute();
  const out: Record<Channel, number> = { email: 0, sms: 0, whatsapp: 0 };
  for (const r of rows) out[r.channel] = Number(r.n);
  return out;
}
