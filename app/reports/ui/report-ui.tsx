import { useMemo, type ReactNode } from "react";
import type { Channel } from "~/db/schema";
import type { Locale } from "~/i18n/config";
import { useLocale, useT } from "~/i18n/react";
import { formatDateTime } from "~/admin/ui/components";
import { CHANNEL_SWATCH } from "~/reports/ui/colors";

/**
 * Building blocks of the report pages: charts (server-drawn SVG), tables, CSV links. Their words
 * come from the `reports` i18n namespace (the page's loader returns it) and numbers, percentages
 * and times are written the page's locale's way (`useReportFormat`).
 */

export type ReportFormat = {
  /** 2,000 / 2 000 / 2.000 */
  n: (value: number) => string;
  /** A share 0..1 as "14.3 %" (one decimal). */
  share: (share: number) => string;
  /** A rate 0..1 as "1.25 %" (two decimals below 10 %, one above); null → "—". */
  rate: (rate: number | null) => string;
  /** A percentage as typed by an operator (a threshold): "0.3 %". */
  percent: (percent: number) => string;
  /** An instant, in UTC, said so: "2025-03-10 08:00:00 UTC", "10. 03. 2025 8:00:00 UTC". */
  dateTime: (value: string | Date | null | undefined) => string;
};

const formats = new Map<Locale, ReportFormat>();

/** Numbers, percentages and times written the way `locale` writes them. */
export function reportFormat(locale: Locale): ReportFormat {
  let f = formats.get(locale);
  if (f) return f;
  const fixed = (digits: number) =>
    new Intl.NumberFormat(locale, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  const whole = new Intl.NumberFormat(locale);
  const one = fixed(1);
  const two = fixed(2);
  const typed = new Intl.NumberFormat(locale, { maximumFractionDigits: 4 });
  // A no-break space keeps "0,3 %" on one line; English keeps the plain space it always had.
  const pc = locale === "en" ? " %" : "\u00a0%";
  f = {
    n: (value) => whole.format(value),
    share: (share) => `${one.format(share * 100)}${pc}`,
    rate: (rate) => {
      if (rate === null) return "—";
      const pct = rate * 100;
      return `${(pct < 10 ? two : one).format(pct)}${pc}`;
    },
    percent: (percent) => `${typed.format(percent)}${pc}`,
    // As the admin area's <Time> writes instants: numeric, in UTC; English keeps ISO order.
    dateTime: (value) => formatDateTime(value, locale),
  };
  formats.set(locale, f);
  return f;
}

export function useReportFormat(): ReportFormat {
  const locale = useLocale();
  return useMemo(() => reportFormat(locale), [locale]);
}

/**
 * A chart drawn on the server (app/reports/charts.server.tsx). The SVG itself is hidden from
 * assistive technology: the labelled region says where the same numbers are (the table below).
 * On a narrow screen the chart keeps a readable size and scrolls sideways.
 */
export function Chart({
  svg,
  label,
  testId,
  narrow,
}: {
  svg: string;
  label: string;
  testId?: string;
  /** Drawn at the narrow width (a half-width column). */
  narrow?: boolean;
}) {
  const t = useT("reports");
  if (!svg) return null;
  return (
    <div
      role="region"
      aria-label={t("ui.chart", { label })}
      tabIndex={0}
      className="mb-4 overflow-x-auto rounded focus:outline-none focus:ring-2 focus:ring-blue-700"
      data-testid={testId}
    >
      <div
        className={`${narrow ? "min-w-[30rem] max-w-[40rem]" : "min-w-[34rem] max-w-[54rem]"} [&_svg]:h-auto [&_svg]:w-full`}
        dangerouslySetInnerHTML={{ __html: svg }}
      />
    </div>
  );
}

export function ChannelLegend({ channels }: { channels: Channel[] }) {
  const t = useT("reports");
  const tc = useT("common");
  return (
    <ul
      className="mb-2 flex flex-wrap gap-4 text-sm text-slate-800"
      aria-label={t("ui.chart_colours")}
    >
      {channels.map((c) => (
        <li key={c} className="flex items-center gap-2">
          <span
            aria-hidden="true"
            className={`inline-block h-3 w-3 rounded-sm ${CHANNEL_SWATCH[c]}`}
          />
          {tc(`channels.${c}`)}
        </li>
      ))}
    </ul>
  );
}

export type Column<T> = {
  header: string;
  cell: (row: T) => ReactNode;
  numeric?: boolean;
  /** The row header (th scope=row): the first column, usually. */
  rowHeader?: boolean;
};

export function DataTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  empty,
  rowClass,
  scroll,
  testId,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  empty?: string;
  rowClass?: (row: T) => string;
  /** Long tables scroll inside a box of limited height. */
  scroll?: boolean;
  testId?: string;
}) {
  const t = useT("reports");
  if (rows.length === 0) {
    return <p className="text-sm text-slate-700">{empty ?? t("ui.nothing_in_range")}</p>;
  }
  return (
    // A labelled, focusable region: keyboards can scroll it when it is wider (phones) or taller
    // (`scroll`) than the page gives it.
    <div
      className={`overflow-x-auto rounded-lg border border-slate-200 focus:outline-none focus:ring-2 focus:ring-blue-700 ${
        scroll ? "max-h-96 overflow-y-auto" : ""
      }`}
      tabIndex={0}
      role="region"
      aria-label={caption}
    >
      <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead className="sticky top-0 bg-slate-50 text-left text-slate-700">
          <tr>
            {columns.map((c) => (
              <th
                key={c.header}
                scope="col"
                className={`px-3 py-2 font-medium ${c.numeric ? "text-right" : ""}`}
              >
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 bg-white">
          {rows.map((row) => (
            <tr key={rowKey(row)} className={`align-top ${rowClass?.(row) ?? ""}`}>
              {columns.map((c) =>
                c.rowHeader ? (
                  <th
                    key={c.header}
                    scope="row"
                    className="px-3 py-2 text-left font-medium text-slate-900"
                  >
                    {c.cell(row)}
                  </th>
                ) : (
                  <td
                    key={c.header}
                    className={`px-3 py-2 ${c.numeric ? "whitespace-nowrap text-right tabular-nums" : ""}`}
                  >
                    {c.cell(row)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function CsvLink({ href, what }: { href: string; what: string }) {
  const t = useT("reports");
  return (
    <a
      href={href}
      download
      className="text-sm font-medium text-blue-800 underline hover:text-blue-950"
    >
      {t("ui.csv")}
      <span className="sr-only"> {t("ui.csv_of", { what })}</span>
    </a>
  );
}

export function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <dt className="text-sm text-slate-700">{label}</dt>
      <dd className="mt-1 text-2xl font-semibold tabular-nums text-slate-900">{value}</dd>
      {hint ? <dd className="mt-1 text-xs text-slate-600">{hint}</dd> : null}
    </div>
  );
}

export function FlagBadge({ triggers }: { triggers: string[] }) {
  const t = useT("reports");
  if (triggers.length === 0) return null;
  const text = triggers
    .map((x) => (x === "threshold" ? t("flag.threshold") : t("flag.outlier")))
    .join(", ");
  return (
    <span className="inline-block rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-900 ring-1 ring-inset ring-red-300">
      {text}
    </span>
  );
}
