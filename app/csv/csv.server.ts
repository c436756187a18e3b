import { NO_STORE } from "~/http/headers";
/**
 * CSV downloads (the suppressions export, the report tables, an import's error report): one way
 * to write a cell, a line and a streamed download.
 *
 * Written by hand rather than with csv-stringify: the rules are three lines, and the export writes
 * millions of cells (csv-stringify took 3.5× as long on 200,000 export rows here).
 */

export type CsvCell = string | number | null | undefined;

// What a spreadsheet would run as a formula: =, +, -, @, tab or CR at the start, or their
// full-width forms (OWASP "CSV injection").
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/** A text cell that a spreadsheet would run as a formula gets a leading apostrophe. */
export function defuseFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * One cell (RFC 4180): quoted when it holds a comma, a quote or a line break. Text is defused
 * unless `raw` (values Heed made itself, or an address: a phone number starts with +); numbers are
 * written as they are (a negative number is not a formula).
 */
export function csvCell(value: CsvCell, raw = false, delimiter: CsvDelimiter = ","): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return String(value);
  const v = raw ? value : defuseFormula(value);
  const special = delimiter === "," ? /[",\r\n]/ : /[",;\r\n]/;
  return special.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The field separator: `,` (RFC 4180), or `;`, which Excel expects where the decimal separator is
 * a comma (Czech, German, French, Polish, Spanish, Portuguese locales).
 */
export type CsvDelimiter = "," | ";";
export const CSV_DELIMITERS: readonly CsvDelimiter[] = [",", ";"];

/** One line, ending with CRLF. `rawColumns`: the indexes of cells that are not defused. */
export function csvLine(
  cells: readonly CsvCell[],
  rawColumns: readonly number[] = [],
  delimiter: CsvDelimiter = ",",
): string {
  return `${cells.map((c, i) => csvCell(c, rawColumns.includes(i), delimiter)).join(delimiter)}\r\n`;
}

/**
 * CSV text as a byte stream for a Response body. The next chunk is made only when the client has
 * taken the previous one (backpressure); an error while making one breaks the download (the
 * client sees an incomplete file, never a silently short one); a cancelled download stops the
 * source. `bom`: a UTF-8 byte order mark first, so that spreadsheet programs read accents right.
 */
export function csvStream(
  chunks: AsyncIterator<string>,
  options: { bom?: boolean } = {},
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let bomPending = options.bom ?? false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // A pull that enqueues nothing would stall the stream: skip empty chunks.
          for (;;) {
            const next = await chunks.next();
            if (next.done) {
              if (bomPending) controller.enqueue(encoder.encode("\uFEFF"));
              controller.close();
              return;
            }
            if (next.value.length === 0) continue;
            controller.enqueue(encoder.encode(bomPending ? `\uFEFF${next.value}` : next.value));
            bomPending = false;
            return;
          }
        } catch (e) {
          controller.error(e);
        }
      },
      async cancel() {
        await chunks.return?.(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

/** The headers of a CSV download. */
export function csvDownloadHeaders(filename: string): Record<string, string> {
  return {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${filename}"`,
    ...NO_STORE,
    "X-Content-Type-Options": "nosniff",
  };
}
