import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import { CHANNELS, CONSENT_SOURCES, type Channel, type ConsentSource } from "~/db/schema";
import {
  LATEST_UNSUBSCRIBE_COLUMNS,
  LATEST_UNSUBSCRIBE_JOIN,
  matchesSuppressionFilter,
  suppressionRowOf,
  type LatestUnsubscribeColumns,
  type SuppressionRow,
} from "~/exports/suppressions.server";

/**
 * The admin's list of suppressions (/admin/suppressions; docs/decisions/0091-suppression-list-keyset.md): every address that is
 * unsubscribed on a channel, newest first, with the facts of its latest unsubscribe (the same
 * query pieces as the export, app/exports/suppressions.server.ts), filtered by channel, source,
 * reason, dates and a part of the address.
 *
 * Pages follow the partial index channel_consent_suppressed_recent_idx backwards: the key is
 * (latest ledger id, channel, keyed hash), unique per row, so a page boundary between rows of the
 * same date (one bulk import) neither repeats nor drops a row. No OFFSET, no count of the whole
 * set. The filters are applied to the rows scanned, and a request scans at most `scanBudget`
 * rows: a rare match cannot turn a page into a scan of the whole table; the page then says how
 * far it looked and offers to go on (docs/decisions/0091-suppression-list-keyset.md).
 */

export type SuppressionListFilter = {
  channel: Channel | null;
  source: ConsentSource | null;
  /** A reason code (the recipient's choice, or an operator's code). */
  reason: string | null;
  /** Unsubscribed at or after this instant. */
  from: Date | null;
  /** Unsubscribed before this instant. */
  to: Date | null;
  /** A part of the stored address (lower case for email), at its start or anywhere. */
  address: { text: string; mode: "contains" | "starts" } | null;
};

export const NO_FILTER: SuppressionListFilter = {
  channel: null,
  source: null,
  reason: null,
  from: null,
  to: null,
  address: null,
};

export type SuppressionListCursor = { ledgerId: number; channel: Channel; hash: string };

export type SuppressionListRow = SuppressionRow & { topic: string | null };

export type SuppressionListPage = {
  rows: SuppressionListRow[];
  /** Where the next (older) page starts; null at the end of the set. */
  next: SuppressionListCursor | null;
  /** The scan stopped at its budget before the page was full: more rows may match further on. */
  budgetReached: boolean;
  /** Rows scanned for this page. */
  scanned: number;
};

/** A cursor in a query string: `<ledger id>.<channel>.<keyed hash>`. */
export function formatListCursor(c: SuppressionListCursor): string {
  return `${c.ledgerId}.${c.channel}.${c.hash}`;
}

/**
 * The cursor of a query string: null when absent, "invalid" when it is not one Heed wrote (a
 * mangled or hand-edited link); never throws.
 */
export function parseListCursor(value: string | null): SuppressionListCursor | null | "invalid" {
  if (value === null || value === "") return null;
  const m = /^(0|[1-9][0-9]{0,15})\.([a-z]+)\.([A-Za-z0-9_-]{1,200})$/.exec(value);
  if (!m) return "invalid";
  const ledgerId = Number(m[1]);
  const channel = m[2] as Channel;
  if (!Number.isSafeInteger(ledgerId) || !CHANNELS.includes(channel)) return "invalid";
  return { ledgerId, channel, hash: m[3]! };
}

export type ListQueryProblem = "channel" | "source" | "date" | "range" | "mode";

/**
 * The filter from a query string (the list's GET form). Unknown values are problems the page
 * names, never errors; empty values are no filter.
 */
export function parseListQuery(params: URLSearchParams): {
  filter: SuppressionListFilter;
  problems: ListQueryProblem[];
} {
  const problems: ListQueryProblem[] = [];
  const get = (name: string) => (params.get(name) ?? "").trim();
  const channelRaw = get("channel");
  const channel = CHANNELS.includes(channelRaw as Channel) ? (channelRaw as Channel) : null;
  if (channelRaw && !channel) problems.push("channel");
  const sourceRaw = get("source");
  const source = CONSENT_SOURCES.includes(sourceRaw as ConsentSource)
    ? (sourceRaw as ConsentSource)
    : null;
  if (sourceRaw && !source) problems.push("source");
  const reasonRaw = get("reason").slice(0, 100);
  const reason = reasonRaw || null;
  const day = (name: string, plusDays = 0): Date | null => {
    const v = get(name);
    if (!v) return null;
    const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
    // A real day: 2026-02-31 is not read as 3 March.
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== v) {
      if (!problems.includes("date")) problems.push("date");
      return null;
    }
    return new Date(t + plusDays * 86_400_000);
  };
  const from = day("from");
  const to = day("to", 1);
  if (from && to && from >= to) problems.push("range");
  const text = get("q").slice(0, 320);
  const modeRaw = get("match");
  const mode = modeRaw === "starts" ? "starts" : "contains";
  if (modeRaw && modeRaw !== "starts" && modeRaw !== "contains") problems.push("mode");
  return {
    filter: {
      channel,
      source,
      reason,
      from: problems.includes("range") ? null : from,
      to: problems.includes("range") ? null : to,
      address: text ? { text, mode } : null,
    },
    problems,
  };
}

/** Addresses are stored normalized: email in lower case, phones as +digits. */
function addressMatches(address: string, want: NonNullable<SuppressionListFilter["address"]>) {
  const text = want.text.toLowerCase();
  // A phone number as people write it (+420 777 111-222): compared without its spaces and dashes.
  const needle = /^[+\d\s().-]+$/.test(text) ? text.replace(/[\s().-]/g, "") : text;
  const hay = address.toLowerCase();
  if (!needle) return true;
  return want.mode === "starts"
    ? hay.startsWith(needle) || (!needle.startsWith("+") && hay.startsWith(`+${needle}`))
    : hay.includes(needle);
}

function matches(row: SuppressionListRow, f: SuppressionListFilter): boolean {
  if (f.channel && row.channel !== f.channel) return false;
  if (f.reason && row.reason !== f.reason) return false;
  if (f.address && !addressMatches(row.address, f.address)) return false;
  return matchesSuppressionFilter(row, f);
}

/** How many rows one request reads at most, and per query. */
export const SCAN_BUDGET = 5_000;
const SCAN_BATCH = 500;

/**
 * One page of the list: up to `limit` rows that pass the filter, older than `before` (null: the
 * newest), and where the next page starts.
 */
export async function suppressionListPage(
  db: Db,
  filter: SuppressionListFilter,
  before: SuppressionListCursor | null,
  options: { limit?: number; scanBudget?: number; batch?: number } = {},
): Promise<SuppressionListPage> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
  const budget = Math.max(options.scanBudget ?? SCAN_BUDGET, limit);
  const batch = Math.max(options.batch ?? SCAN_BATCH, 1);
  const rows: SuppressionListRow[] = [];
  let key = before;
  let scanned = 0;
  for (;;) {
    const want = Math.min(batch, budget - scanned);
    const { rows: found } = await sql<LatestUnsubscribeColumns & { key_id: string | number }>`
      select cc.key_id, cc.channel, cc.address, cc.address_hash, ${LATEST_UNSUBSCRIBE_COLUMNS}
      from (
        select coalesce(last_ledger_id, 0) as key_id, channel, address, address_hash
        from channel_consent
        where status = 'unsubscribed' and address is not null
          ${
            key
              ? sql`and (coalesce(last_ledger_id, 0), channel, address_hash) < (${key.ledgerId}, ${key.channel}, ${key.hash})`
              : sql``
          }
        order by coalesce(last_ledger_id, 0) desc, channel desc, address_hash desc
        limit ${want}
      ) cc
      ${LATEST_UNSUBSCRIBE_JOIN}
      order by cc.key_id desc, cc.channel desc, cc.address_hash desc
    `.execute(db);
    for (const [i, r] of found.entries()) {
      scanned++;
      key = { ledgerId: Number(r.key_id), channel: r.channel, hash: r.address_hash };
      const row: SuppressionListRow = { ...suppressionRowOf(r), topic: r.topic };
      if (!matches(row, filter)) continue;
      rows.push(row);
      if (rows.length === limit) {
        // Full: the next page starts after this row (rows scanned after it come again there),
        // unless this was the last row of the set.
        const last = i === found.length - 1 && found.length < want;
        return { rows, next: last ? null : key, budgetReached: false, scanned };
      }
    }
    if (found.length < want) return { rows, next: null, budgetReached: false, scanned };
    if (scanned >= budget) return { rows, next: key, budgetReached: true, scanned };
  }
}

/** The reason codes offered in the filter: the operator's reasons, in their order. */
export async function reasonCodes(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom("unsubscribe_reasons")
    .select("code")
    .orderBy("position")
    .orderBy("code")
    .execute();
  return rows.map((r) => r.code);
}
