import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ImportFileError, type SheetRow } from "~/imports/read.server";

/**
 * Legacy Excel files (.xls, BIFF5/BIFF8 in a Compound File), read with SheetJS Community
 * Edition 0.20.3 (the `@e965/xlsx` republication on npm of SheetJS's own 0.20.3 build; the npm
 * registry's `xlsx` package stops at 0.18.5, which has CVE-2023-30533 and CVE-2024-22363, both
 * fixed by 0.20.2). See docs/decisions/0041-legacy-xls-in-a-worker.md.
 *
 * A BIFF file is not streamable (its cells point into a shared string table anywhere in the
 * file), so the parse is bounded instead:
 * - the file is at most IMPORT_MAX_FILE_MB (checked on upload, like every format) and a sheet has
 *   at most 65,536 rows by the format itself; only the first sheet is parsed (`sheets: 0`), and
 *   at most `maxRows` rows of it (`sheetRows`);
 * - the parse runs in a worker thread with a heap limit (XLS_HEAP_MB) and a time limit: a file
 *   that needs more is refused with a message, and the server's own heap never holds SheetJS's
 *   workbook. The worker sends back plain rows of strings, 1,000 at a time.
 */

/** The worker's heap limit. A full 65,536-row sheet of 10 columns needs about 150 MB. */
export const XLS_HEAP_MB = 384;
const XLS_TIME_LIMIT_MS = 120_000;

type WorkerMessage =
  | { rows: SheetRow[] }
  | { done: true }
  | { error: string; encrypted?: boolean; notWorkbook?: boolean };

/**
 * The worker's program, sent as text (new Worker(source, { eval })): it uses nothing but its
 * arguments and globals.
 */
function xlsWorkerMain(
  threads: typeof import("node:worker_threads"),
  load: (path: string) => unknown,
) {
  const port = threads.parentPort!;
  const data = threads.workerData as { sheetjsPath: string; filePath: string; maxRows: number };
  // SheetJS reports formulas it cannot rebuild on the console; the cached values are what count.
  console.error = () => {};
  console.warn = () => {};
  console.log = () => {};
  type Cell = { t: string; v?: unknown } | null | undefined;
  type SheetJs = {
    read(
      data: Buffer,
      options: Record<string, unknown>,
    ): {
      SheetNames: string[];
      Sheets: Record<string, { "!data"?: (Cell[] | null | undefined)[] }>;
    };
  };
  try {
    const X = load(data.sheetjsPath) as SheetJs;
    const fs = load("node:fs") as typeof import("node:fs");
    const wb = X.read(fs.readFileSync(data.filePath), {
      type: "buffer",
      dense: true,
      sheets: 0,
      sheetRows: data.maxRows,
      cellFormula: false,
      cellHTML: false,
      cellText: false,
      cellNF: false,
      cellStyles: false,
      cellDates: false,
      bookVBA: false,
      bookProps: false,
    });
    const first = wb.SheetNames[0];
    const rows = (first ? wb.Sheets[first]?.["!data"] : undefined) ?? [];
    let batch: { line: number; cells: string[] }[] = [];
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (!row) continue;
      const cells: string[] = [];
      let blank = true;
      for (let c = 0; c < row.length; c++) {
        const cell = row[c];
        let text = "";
        if (cell && cell.v !== undefined && cell.v !== null) {
          if (cell.t === "n" && typeof cell.v === "number") {
            // A phone number typed into Excel is a number: keep every digit, no exponent.
            text = Number.isInteger(cell.v) ? cell.v.toFixed(0) : String(cell.v);
          } else if (cell.t === "b") text = cell.v ? "TRUE" : "FALSE";
          else if (cell.t === "e") text = "";
          else if (cell.v instanceof Date) text = cell.v.toISOString();
          else text = String(cell.v as string);
        }
        if (text.trim() !== "") blank = false;
        cells.push(text);
      }
      if (blank) continue;
      batch.push({ line: r + 1, cells });
      if (batch.length >= 1000) {
        port.postMessage({ rows: batch });
        batch = [];
      }
    }
    if (batch.length) port.postMessage({ rows: batch });
    port.postMessage({ done: true });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    port.postMessage({
      error: message,
      encrypted: /password-protected/i.test(message),
      notWorkbook: /find Workbook stream/i.test(message),
    });
  }
}

// `__name` guards against a bundler that wraps function names (esbuild's keepNames).
const WORKER_SOURCE = `var __name = (f) => f;
(${xlsWorkerMain.toString()})(require("node:worker_threads"), (p) => require(p));`;

/**
 * The non-empty rows of the first sheet of an .xls file, in batches, parsed in a worker thread
 * (see above). `maxRows` caps the rows read (the preview asks for a few dozen).
 */
export async function* readXls(
  filePath: string,
  options: { maxRows: number },
): AsyncGenerator<SheetRow[]> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      sheetjsPath: createRequire(import.meta.url).resolve("@e965/xlsx"),
      filePath,
      maxRows: Math.max(1, Math.min(options.maxRows, 65_536)),
    },
    resourceLimits: { maxOldGenerationSizeMb: XLS_HEAP_MB, maxYoungGenerationSizeMb: 32 },
    stdout: true,
    stderr: true,
  });
  const queue: WorkerMessage[] = [];
  let failure: ImportFileError | null = null;
  let exited = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const timer = setTimeout(() => {
    failure = new ImportFileError(
      "The XLS file took too long to read. Save it as XLSX or CSV and upload it again.",
    );
    void worker.terminate();
  }, XLS_TIME_LIMIT_MS);
  worker.on("message", (m: WorkerMessage) => {
    queue.push(m);
    notify();
  });
  worker.on("error", (e: Error & { code?: string }) => {
    failure =
      e.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? new ImportFileError(
            `The XLS file needs more than ${XLS_HEAP_MB} MB to read. Save it as XLSX or CSV (they are read as a stream) and upload it again.`,
          )
        : new ImportFileError(`The XLS file could not be read: ${e.message}`);
    notify();
  });
  worker.on("exit", () => {
    exited = true;
    notify();
  });
  try {
    for (;;) {
      const m = queue.shift();
      if (m) {
        if ("error" in m) {
          throw new ImportFileError(
            m.encrypted
              ? "The XLS file is protected with a password. Save it without a password and upload it again."
              : m.notWorkbook
                ? "Unknown format: this file is an Office document but not an Excel workbook. Upload a CSV, XLSX, ODS or XLS file."
                : `The XLS file could not be read: ${m.error}`,
          );
        }
        if ("done" in m) return;
        if (m.rows.length) yield m.rows;
        continue;
      }
      if (failure) throw failure as ImportFileError;
      if (exited) throw new ImportFileError("The XLS file could not be read.");
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}
