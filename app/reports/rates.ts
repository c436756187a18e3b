import type { AlertTrigger } from "~/reports/schema";

/**
 * When is a campaign's unsubscribe rate "high"? Pure rules, shared by the dashboard's flags and
 * the alert task (app/reports/alerts.server.ts), so both always agree.
 *
 * A campaign's rate = people who left through it / sent_count, where "people who left" are the
 * distinct addresses on the campaign's channel with an unsubscribe or topic opt-out attributed to
 * the campaign, from any source except `import` and `system` (see queries.server.ts).
 *
 * 1. threshold: sent_count ≥ minSent and rate ≥ thresholdPercent (default 1 %). At the threshold
 *    counts: 10 of 1,000 is 1 % and fires; 9 of 1,000 does not.
 * 2. outlier ("far above the sender's long-run average"): the sender's previous `baselineSize`
 *    campaigns on the same channel (default 20) that reached minSent are the baseline; with at least
 *    `minBaseline` of them (default 5), a campaign is an outlier when
 *        rate > mean + sigmas × standard deviation   (sample standard deviation; sigmas = 3)
 *    and at least `minUnsubscribes` people (default 10) left through it, so that a handful of
 *    unsubscribes on a small send never looks like a spike.
 */
export type RateRules = {
  thresholdPercent: number;
  minSent: number;
  outlierEnabled: boolean;
  sigmas: number;
  baselineSize: number;
  minBaseline: number;
  minUnsubscribes: number;
};

export const DEFAULT_RATE_RULES: RateRules = {
  thresholdPercent: 1,
  minSent: 100,
  outlierEnabled: true,
  sigmas: 3,
  baselineSize: 20,
  minBaseline: 5,
  minUnsubscribes: 10,
};

export type Baseline = { campaigns: number; mean: number; stddev: number; limit: number };

export type RateVerdict = {
  /** null when nothing was sent (no rate). */
  rate: number | null;
  triggers: AlertTrigger[];
  baseline: Baseline | null;
};

/** Mean and sample standard deviation. */
export function meanAndStddev(values: readonly number[]): { mean: number; stddev: number } {
  const n = values.length;
  if (n === 0) return { mean: 0, stddev: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, stddev: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, stddev: Math.sqrt(variance) };
}

/** rate ≥ percent/100, without floating-point surprises at the exact threshold (10/1000 vs 1 %). */
export function reachesThreshold(unsubscribes: number, sent: number, percent: number): boolean {
  return unsubscribes * 100 >= percent * sent * (1 - 1e-12);
}

export function judgeRate(
  campaign: { sent: number; unsubscribes: number },
  baselineRates: readonly number[],
  rules: RateRules,
): RateVerdict {
  const { sent, unsubscribes } = campaign;
  if (sent <= 0) return { rate: null, triggers: [], baseline: null };
  const rate = unsubscribes / sent;
  const triggers: AlertTrigger[] = [];
  if (sent >= rules.minSent && reachesThreshold(unsubscribes, sent, rules.thresholdPercent)) {
    triggers.push("threshold");
  }
  let baseline: Baseline | null = null;
  if (rules.outlierEnabled && baselineRates.length >= rules.minBaseline) {
    const { mean, stddev } = meanAndStddev(baselineRates);
    baseline = {
      campaigns: baselineRates.length,
      mean,
      stddev,
      limit: mean + rules.sigmas * stddev,
    };
    if (sent >= rules.minSent && unsubscribes >= rules.minUnsubscribes && rate > baseline.limit) {
      triggers.push("outlier");
    }
  }
  return { rate, triggers, baseline };
}

/** "1.25 %" (two decimals below 10 %, one above). */
export function formatRate(rate: number | null): string {
  if (rate === null) return "—";
  const pct = rate * 100;
  return `${pct.toFixed(pct < 10 ? 2 : 1)} %`;
}
