import { domainToUnicode } from "node:url";
import { sql } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { csvDownloadHeaders, csvLine, csvStream, type CsvDelimiter } from "~/csv/csv.server";
import type { Db } from "~/db/db.server";
import { inBackgroundLane, nextTurn } from "~/db/priority.server";
import type { Channel, ConsentSource } from "~/db/schema";
import { UNDELIVERABLE_SOURCE } from "~/email/constants";

/**
 * The suppressions export (docs/admin.md): every address that is unsubscribed on a channel, as CSV,
 * streamed straight from the database in keyset pages, so memory stays flat and the first byte
 * leaves at once whatever the size. Used by the admin download (/admin/exports) and by
 * GET /api/v1/suppressions.csv.
 *
 * Pages follow the partial index channel_consent_suppressed_idx: the rows come in the order
 * (channel, address in byte order, keyed hash), and each page continues after the previous
 * page's last key. That order belongs to the address, not to its latest change, so a download
 * stays exact while consent changes under it: an address suppressed for the whole download
 * appears exactly once, even if it changes meanwhile (a new reason, a topic change); an address
 * suppressed or re-subscribed during the download appears or not depending on which side of the
 * page boundary it is. Each page is a bounded index range scan (never a sort of the whole set),
 * and the filters (source, dates) are applied to the rows scanned, so a rare match cannot turn
 * a page into a scan of the whole table either: pages may come back short, never slow.
 *
 * Columns: address, channel, date (of the latest unsubscribe, ISO 8601 UTC), source, reason
 * (code), reason_text (free text: the recipient's words), campaign, note (an operator's note: an
 * agent's, an API caller's, an import's). Erased addresses exist only as a keyed hash and are not
 * exported (there is nothing a sender could match them with).
 *
 * For people (the admin download, `forPeople`): a UTF-8 byte order mark and the separator they
 * choose, so that Excel opens the file right; internationalized domains in Unicode
 * (`jan@müller.de`), with the stored ASCII (punycode) form in an extra last column,
 * `address_ascii`. Machines (the API) get the stored form, comma-separated, without a BOM.
 */

export type SuppressionExportFilter = {
  channel?: Channel | null;
  /** Unsubscribed at or after this instant. */
  from?: Date | null;
  /** Unsubscribed before this instant. */
  to?: Date | null;
  /** A consent source, or `undeliverable`: the addresses marked undeliverable (hard bounces). */
  source?: ConsentSource | typeof UNDELIVERABLE_SOURCE | null;
};

export type SuppressionCsvOptions = {
  /** Rows per database page (default 2,000). */
  batchSize?: number;
  /**
   * Prefix free-text cells that a spreadsheet would run as a formula (=, +, -, @) with an
   * apostrophe (default true; addresses are never changed). Machine consumers may turn it off.
   */
  spreadsheetSafe?: boolean;
  /** Write the header row (default true). */
  header?: boolean;
  /** For a spreadsheet: BOM, this separator, Unicode domains plus an `address_ascii` column. */
  forPeople?: { delimiter: CsvDelimiter } | null;
};

/** An email address with an internationalized (punycode) domain, in Unicode; others as they are. */
export function unicodeAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0 || !address.slice(at + 1).includes("xn--")) return address;
  const domain = domainToUnicode(address.slice(at + 1));
  return domain ? `${address.slice(0, at + 1)}${domain}` : address;
}

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
/** The admin download's columns: the address in Unicode, its stored ASCII form last. */
export const SUPPRESSION_CSV_COLUMNS_FOR_PEOPLE = [
  ...SUPPRESSION_CSV_COLUMNS,
  "address_ascii",
] as const;

/** Sources whose free text is an operator's note (rows written before notes moved to details). */
const NOTE_SOURCES = sql`('admin', 'api')`;

/**
 * The latest unsubscribe of each channel row `cc` (with `channel` and `address_hash`), joined as
 * `u`: the export and the admin's list of suppressions (app/exports/suppression-list.server.ts)
 * read the same facts the same way.
 */
export const LATEST_UNSUBSCRIBE_JOIN = sql`
    left join lateral (
      select l.occurred_at, l.source, l.reason_code, l.reason_text, l.campaign, l.details, l.topic
      from consent_ledger l
      where l.channel = cc.channel and l.address_hash = cc.address_hash and l.action = 'unsubscribe'
      order by l.id desc
      limit 1
    ) u on true`;

/** The columns of LATEST_UNSUBSCRIBE_JOIN that a row shows (an operator's note kept apart). */
export const LATEST_UNSUBSCRIBE_COLUMNS = sql`u.occurred_at, u.source, u.reason_code,
      case when u.source in ${NOTE_SOURCES} then null else u.reason_text end as reason_text,
      u.campaign, u.topic,
      coalesce(u.details ->> 'note',
        case when u.source in ${NOTE_SOURCES} then u.reason_text end) as note`;

export type LatestUnsubscribeColumns = {
  channel: Channel;
  address: string;
  address_hash: string;
  occurred_at: Date | null;
  source: ConsentSource | null;
  reason_code: string | null;
  reason_text: string | null;
  campaign: string | null;
  topic: string | null;
  note: string | null;
};

export function suppressionRowOf(r: LatestUnsubscribeColumns): SuppressionRow {
  return {
    address: r.address,
    channel: r.channel,
    date: r.occurred_at,
    source: r.source,
    reason: r.reason_code,
    reasonText: r.reason_text,
    campaign: r.campaign,
    note: r.note,
  };
}

export type SuppressionRow = {
  address: string;
  channel: Channel;
  date: Date | null;
  source: ConsentSource | typeof UNDELIVERABLE_SOURCE | null;
  reason: string | null;
  reasonText: string | null;
  campaign: string | null;
  note: string | null;
};

/**
 * Where a page ends: the key of the last row it scanned (the next page starts after it). Marks of
 * undeliverable addresses page on their event id instead.
 */
export type SuppressionCursor =
  { channel: Channel; address: string; hash: string } | { eventId: number };

export type SuppressionPage = {
  rows: SuppressionRow[];
  /** Null when the scan reached the end. */
  next: SuppressionCursor | null;
};

/** Whether a row passes the filter's source and dates (the channel is part of the scan). */
export function matchesSuppressionFilter(
  row: Pick<SuppressionRow, "source" | "date">,
  filter: SuppressionExportFilter,
): boolean {
  if (filter.source && row.source !== filter.source) return false;
  if (filter.from && !(row.date && row.date >= filter.from)) return false;
  if (filter.to && !(row.date && row.date < filter.to)) return false;
  return true;
}

/**
 * One page: the next `limit` suppressed addresses after `after` (null: from the start) along
 * the export index, with their latest unsubscribe; the rows that pass the filter, and where the
 * scan stopped.
 */
export async function suppressionPage(
  db: Db,
  filter: SuppressionExportFilter,
  after: SuppressionCursor | null,
  limit: number,
): Promise<SuppressionPage> {
  if (filter.source === UNDELIVERABLE_SOURCE) {
    return undeliverablePage(db, filter, after && "eventId" in after ? after.eventId : 0, limit);
  }
  const key = after && "hash" in after ? after : null;
  const { rows } = await sql<LatestUnsubscribeColumns>`
    select cc.channel, cc.address, cc.address_hash, ${LATEST_UNSUBSCRIBE_COLUMNS}
    from (
      select channel, address, address_hash
      from channel_consent
      where status = 'unsubscribed' and address is not null
        ${filter.channel ? sql`and channel = ${filter.channel}` : sql``}
        ${
          key
            ? sql`and (channel, address collate "C", address_hash) > (${key.channel}, ${key.address} collate "C", ${key.hash})`
            : sql``
        }
      order by channel, address collate "C", address_hash
      limit ${limit}
    ) cc
    ${LATEST_UNSUBSCRIBE_JOIN}
    order by cc.channel, cc.address collate "C", cc.address_hash
  `.execute(db);
  const last = rows[rows.length - 1];
  const out: SuppressionRow[] = [];
  for (const r of rows) {
    const row = suppressionRowOf(r);
    if (matchesSuppressionFilter(row, filter)) out.push(row);
  }
  return {
    rows: out,
    next:
      last && rows.length === limit
        ? { channel: last.channel, address: last.address, hash: last.address_hash }
        : null,
  };
}

/**
 * The same columns for addresses marked undeliverable: source `undeliverable`, reason the kind of
 * bounce (hard_bounce, soft_bounces), free text the provider's diagnostic, campaign, and the
 * provider as note. Keyset-paginated on the mark's event id.
 */
async function undeliverablePage(
  db: Db,
  filter: SuppressionExportFilter,
  after: number,
  limit: number,
): Promise<SuppressionPage> {
  const { rows } = await sql<{
    cursor: number;
    address: string;
    channel: Channel;
    marked_at: Date;
    reason: string;
    detail: string | null;
    campaign: string | null;
    provider: string | null;
  }>`
    select ua.last_event_id as cursor, ua.address, ua.channel, ua.marked_at, ua.reason, ua.detail,
      e.campaign, ua.provider
    from undeliverable_addresses ua
    left join undeliverable_events e on e.id = ua.last_event_id
    where ua.last_event_id > ${after} and ua.address is not null
      ${filter.channel ? sql`and ua.channel = ${filter.channel}` : sql``}
      ${filter.from ? sql`and ua.marked_at >= ${filter.from}` : sql``}
      ${filter.to ? sql`and ua.marked_at < ${filter.to}` : sql``}
    order by ua.last_event_id
    limit ${limit}
  `.execute(db);
  const last = rows[rows.length - 1];
  const out = rows.map((r) => ({
    address: r.address,
    channel: r.channel,
    date: r.marked_at,
    source: UNDELIVERABLE_SOURCE,
    reason: r.reason,
    reasonText: r.detail,
    campaign: r.campaign,
    note: r.provider,
  }));
  return {
    rows: out,
    next: last && rows.length === limit ? { eventId: Number(last.cursor) } : null,
  };
}

export function suppressionCsvLine(
  row: SuppressionRow,
  spreadsheetSafe = true,
  forPeople: { delimiter: CsvDelimiter } | null = null,
): string {
  if (forPeople) {
    return csvLine(
      [
        unicodeAddress(row.address),
        row.channel,
        row.date ? row.date.toISOString() : "",
        row.source ?? "",
        row.reason,
        row.reasonText,
        row.campaign,
        row.note,
        row.address,
      ],
      spreadsheetSafe ? [0, 1, 2, 3, 8] : [0, 1, 2, 3, 4, 5, 6, 7, 8],
      forPeople.delimiter,
    );
  }
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

/**
 * Rows per page. A page of 2,000 takes about 10 ms on PostgreSQL and 20-50 ms on PGlite, where
 * it holds the only session meanwhile (a request waits for at most one page: export pages run in
 * the background lane). A page size that adapted to measured time was tried: under load the
 * time measured includes waiting for the session, so pages shrank to nothing.
 */
const PAGE_ROWS = 2_000;

/** The CSV as text chunks (one per non-empty page), header first; lines end with CRLF (RFC 4180). */
export async function* suppressionCsvChunks(
  db: Db,
  filter: SuppressionExportFilter = {},
  options: SuppressionCsvOptions = {},
): AsyncGenerator<string> {
  const limit = Math.min(Math.max(options.batchSize ?? PAGE_ROWS, 1), 50_000);
  const safe = options.spreadsheetSafe ?? true;
  const people = options.forPeople ?? null;
  if (options.header ?? true) {
    yield people
      ? `${SUPPRESSION_CSV_COLUMNS_FOR_PEOPLE.join(people.delimiter)}\r\n`
      : `${SUPPRESSION_CSV_COLUMNS.join(",")}\r\n`;
  }
  let after: SuppressionCursor | null = null;
  for (;;) {
    // Requests waiting for the database go first (PGlite has one session).
    const from: SuppressionCursor | null = after;
    const page: SuppressionPage = await inBackgroundLane(() =>
      suppressionPage(db, filter, from, limit),
    );
    if (page.rows.length > 0) {
      yield page.rows.map((r) => suppressionCsvLine(r, safe, people)).join("");
    }
    if (!page.next) return;
    after = page.next;
    // Let the event loop run between pages (sockets flush, other requests get their turn), even
    // where a page resolves without ever leaving the microtask queue (PGlite in this thread).
    await nextTurn();
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
  return csvStream(suppressionCsvChunks(db, filter, options), { bom: Boolean(options.forPeople) });
}

/** An admin downloads the suppressions export: audited (with the filter), then streamed. */
export async function exportSuppressions(
  db: Db,
  filter: SuppressionExportFilter,
  by: AuditContext,
  details: Record<string, unknown>,
  options: SuppressionCsvOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  await audit(db, { ...by, action: "suppressions.export", details });
  return suppressionCsvStream(db, filter, options);
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
