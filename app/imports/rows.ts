import type { BulkUnsubscribeItem } from "~/consent/bulk.server";
import { CHANNELS, type Channel } from "~/db/schema";
import { ImportFileError, type SheetRow } from "~/imports/read.server";
import type { ImportErrorReason, ImportMapping } from "~/imports/schema";

/**
 * The pure half of an import: which rows of the file make a batch, and what each row asks for
 * (an address to suppress on a channel, with a reason) or why it cannot be imported. No database
 * and no clock here; the worker (jobs.server.ts) feeds the items to the consent core's bulk door.
 */

const CHANNEL_ALIASES: Record<string, Channel> = {
  email: "email",
  "e-mail": "email",
  mail: "email",
  sms: "sms",
  text: "sms",
  phone: "sms",
  mobile: "sms",
  whatsapp: "whatsapp",
  wa: "whatsapp",
};

/** A channel cell: a channel name or a common alias, any case; null when it names none. */
export function channelOf(value: string | undefined): Channel | null {
  const v = (value ?? "").trim().toLowerCase();
  if ((CHANNELS as readonly string[]).includes(v)) return v as Channel;
  return CHANNEL_ALIASES[v] ?? null;
}

/**
 * A reason cell: one of the operator's reason codes (any case, spaces or dashes for underscores)
 * becomes the reason code; anything else is kept as free text.
 */
export function reasonOf(
  value: string | undefined,
  codes: ReadonlySet<string>,
): { reasonCode: string | null; reasonText: string | null } {
  const v = (value ?? "").trim();
  if (!v) return { reasonCode: null, reasonText: null };
  const code = v.toLowerCase().replace(/[\s-]+/g, "_");
  return codes.has(code)
    ? { reasonCode: code, reasonText: null }
    : { reasonCode: null, reasonText: v };
}

export type RowErrors = {
  lines: number[];
  values: (string | null)[];
  reasons: ImportErrorReason[];
};

/** A batch of rows as items for the bulk door, each with its line and raw address for the report. */
export type RowItems = {
  /** Rows in the batch (items + errors). */
  count: number;
  items: BulkUnsubscribeItem[];
  itemLines: number[];
  itemValues: string[];
  /** Rows refused before the bulk door (a channel column without a channel). */
  errors: RowErrors;
};

/**
 * Turns rows into bulk-door items. The channel is the job's, or (a job without one) the row's
 * channel column; a row whose channel cell names no channel is an `invalid_channel` error. The
 * address is checked later, by the bulk door.
 */
export function rowsToItems(
  rows: readonly SheetRow[],
  input: { mapping: ImportMapping; channel: Channel | null; reasonCodes: ReadonlySet<string> },
): RowItems {
  const { mapping } = input;
  const out: RowItems = {
    count: rows.length,
    items: [],
    itemLines: [],
    itemValues: [],
    errors: { lines: [], values: [], reasons: [] },
  };
  for (const row of rows) {
    const raw = row.cells[mapping.addressColumn] ?? "";
    const channelCell = row.cells[mapping.channelColumn ?? -1];
    const channel = input.channel ?? channelOf(channelCell);
    if (!channel) {
      out.errors.lines.push(row.line);
      out.errors.values.push((channelCell ?? "").slice(0, 256));
      out.errors.reasons.push("invalid_channel");
      continue;
    }
    out.items.push({
      channel,
      address: raw,
      ...reasonOf(row.cells[mapping.reasonColumn ?? -1], input.reasonCodes),
    });
    out.itemLines.push(row.line);
    out.itemValues.push(raw);
  }
  return out;
}

/**
 * Groups the file's rows into batches: skips the header row (when the mapping has one) and the
 * rows a previous run already committed (`skip`), and refuses a file with more than `maxRows`
 * data rows. `onSkipping` is awaited after each chunk of the file that was skipped whole (a
 * resumed job renews its lease there).
 */
export async function* rowBatches(
  chunks: AsyncIterable<readonly SheetRow[]>,
  options: {
    header: boolean;
    skip: number;
    maxRows: number;
    batchSize: number;
    onSkipping?: () => Promise<void>;
  },
): AsyncGenerator<SheetRow[]> {
  let index = 0;
  let headerSkipped = !options.header;
  let batch: SheetRow[] = [];
  for await (const rows of chunks) {
    for (const row of rows) {
      if (!headerSkipped) {
        headerSkipped = true;
        continue;
      }
      if (index++ < options.skip) continue;
      if (index > options.maxRows) {
        throw new ImportFileError(
          `The file has more than ${options.maxRows.toLocaleString("en")} rows (IMPORT_MAX_ROWS).`,
        );
      }
      batch.push(row);
      if (batch.length >= options.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (index <= options.skip) await options.onSkipping?.();
  }
  if (batch.length > 0) yield batch;
}
