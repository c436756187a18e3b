import type { ReactElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { Bar, BarChart, CartesianGrid, Cell, ReferenceLine, XAxis, YAxis } from "recharts";
import type { Channel } from "~/db/schema";
import { CHANNEL_COLORS, CHART_COLOR, FLAG_COLOR } from "~/reports/ui/colors";
import type { TimeRow } from "~/reports/queries.server";

/**
 * Charts drawn on the server with recharts (explicit sizes, no ResponsiveContainer, no animation)
 * and sent as SVG markup: they show without JavaScript, cost the browser no chart library, and the
 * page's strict CSP holds (the few inline `style` attributes recharts writes are removed; sizes
 * come from the viewBox and Tailwind classes). Every chart sits beside a table with the same
 * numbers, so the SVG is decoration for sighted users (the page gives it role="img" and a label).
 */

const WIDTH = 720;
/** Charts in a half-width column. */
export const NARROW = 480;
const FONT = 12;
const AXIS = { fontSize: FONT, fill: "#334155" };

function toSvg(chart: ReactElement): string {
  const html = renderToStaticMarkup(chart);
  const start = html.indexOf("<svg");
  const end = html.lastIndexOf("</svg>");
  if (start < 0 || end < 0) return "";
  return (
    html
      .slice(start, end + 6)
      // No inline styles (CSP); no fixed size: the viewBox scales it to its container.
      .replace(/\sstyle="[^"]*"/g, "")
      .replace(
        /^<svg([^>]*?)\swidth="[\d.]+"\sheight="[\d.]+"/,
        '<svg$1 preserveAspectRatio="xMinYMin meet"',
      )
      .replace(/^<svg/, '<svg aria-hidden="true" focusable="false"')
  );
}

/** Axis numbers in the page's locale: whole numbers, or rates 0..1 as "1,5 %". */
function axisNumber(locale: string): (v: number) => string {
  const f = new Intl.NumberFormat(locale);
  return (v) => f.format(v);
}
function axisPercent(locale: string): (v: number) => string {
  const f = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  return (v) => `${f.format(v * 100)} %`;
}

function shortDay(bucket: string): string {
  return bucket.slice(5); // MM-DD
}

/** People leaving per day or week, stacked by channel. */
export function overTimeChart(rows: TimeRow[], channels: Channel[], locale = "en"): string {
  const interval = rows.length > 16 ? Math.ceil(rows.length / 12) - 1 : 0;
  return toSvg(
    <BarChart
      width={WIDTH}
      height={260}
      data={rows}
      margin={{ top: 8, right: 8, bottom: 4, left: 0 }}
    >
      <CartesianGrid stroke="#e2e8f0" vertical={false} />
      <XAxis dataKey="bucket" tickFormatter={shortDay} interval={interval} tick={AXIS} />
      <YAxis allowDecimals={false} tick={AXIS} width={48} tickFormatter={axisNumber(locale)} />
      {channels.map((c) => (
        <Bar
          key={c}
          dataKey={c}
          stackId="leaving"
          fill={CHANNEL_COLORS[c]}
          isAnimationActive={false}
        />
      ))}
    </BarChart>,
  );
}

/** Horizontal bars: one per label (reasons, topics, sources, a campaign's reasons). */
export function barsChart(
  rows: { label: string; value: number; muted?: boolean }[],
  options: { percent?: boolean; reference?: number; width?: number; locale?: string } = {},
): string {
  if (rows.length === 0) return "";
  // Longer labels are cut: the axis has 200 px (160 in a half-width chart) for them.
  const max = options.width && options.width < WIDTH ? 22 : 28;
  const data = rows.map((r) => ({
    ...r,
    label: r.label.length > max ? `${r.label.slice(0, max - 1)}…` : r.label,
  }));
  const height = 24 + data.length * 30;
  const format = (options.percent ? axisPercent : axisNumber)(options.locale ?? "en");
  return toSvg(
    <BarChart
      width={options.width ?? WIDTH}
      height={height}
      data={data}
      layout="vertical"
      margin={{ top: 4, right: 24, bottom: 4, left: 8 }}
    >
      <CartesianGrid stroke="#e2e8f0" horizontal={false} />
      <XAxis type="number" allowDecimals={!!options.percent} tickFormatter={format} tick={AXIS} />
      <YAxis
        type="category"
        dataKey="label"
        width={options.width && options.width < WIDTH ? 160 : 200}
        tick={AXIS}
        interval={0}
      />
      {options.reference !== undefined ? (
        <ReferenceLine
          x={options.reference}
          stroke={FLAG_COLOR}
          strokeDasharray="4 3"
          strokeWidth={2}
        />
      ) : null}
      <Bar dataKey="value" isAnimationActive={false} barSize={18}>
        {data.map((r) => (
          <Cell key={r.label} fill={r.muted ? "#94a3b8" : CHART_COLOR} />
        ))}
      </Bar>
    </BarChart>,
  );
}

/** Campaign rates, flagged ones in red, with the threshold as a dashed line. */
export function campaignRatesChart(
  rows: { label: string; rate: number; flagged: boolean }[],
  thresholdPercent: number,
  locale = "en",
): string {
  if (rows.length === 0) return "";
  const data = rows.map((r) => ({
    ...r,
    label: r.label.length > 28 ? `${r.label.slice(0, 27)}…` : r.label,
  }));
  const height = 24 + data.length * 30;
  const max = Math.max(thresholdPercent / 100, ...data.map((r) => r.rate)) * 1.1;
  return toSvg(
    <BarChart
      width={WIDTH}
      height={height}
      data={data}
      layout="vertical"
      margin={{ top: 4, right: 24, bottom: 4, left: 8 }}
    >
      <CartesianGrid stroke="#e2e8f0" horizontal={false} />
      <XAxis type="number" domain={[0, max]} tickFormatter={axisPercent(locale)} tick={AXIS} />
      <YAxis type="category" dataKey="label" width={200} tick={AXIS} interval={0} />
      <ReferenceLine
        x={thresholdPercent / 100}
        stroke={FLAG_COLOR}
        strokeDasharray="4 3"
        strokeWidth={2}
      />
      <Bar dataKey="rate" isAnimationActive={false} barSize={18}>
        {data.map((r) => (
          <Cell key={r.label} fill={r.flagged ? FLAG_COLOR : CHART_COLOR} />
        ))}
      </Bar>
    </BarChart>,
  );
}

/** A campaign's unsubscribes per day. */
export function dailyChart(rows: { day: string; count: number }[], locale = "en"): string {
  if (rows.length === 0) return "";
  const interval = rows.length > 16 ? Math.ceil(rows.length / 12) - 1 : 0;
  return toSvg(
    <BarChart
      width={WIDTH}
      height={220}
      data={rows}
      margin={{ top: 8, right: 8, bottom: 4, left: 0 }}
    >
      <CartesianGrid stroke="#e2e8f0" vertical={false} />
      <XAxis dataKey="day" tickFormatter={shortDay} interval={interval} tick={AXIS} />
      <YAxis allowDecimals={false} tick={AXIS} width={48} tickFormatter={axisNumber(locale)} />
      <Bar dataKey="count" fill={CHART_COLOR} isAnimationActive={false} />
    </BarChart>,
  );
}
