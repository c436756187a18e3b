/**
 * When Heed tries a webhook delivery again: the schedule that the Standard Webhooks
 * recommendations give as an example, spanning a little over three days. Published in the README,
 * on the API page and on each endpoint's admin page; shared by the transport (which decides) and
 * the admin area (which shows it).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The wait before attempt n + 2 after attempt n + 1 failed (the first attempt is immediate). */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
];

/** Attempts in all; after the last one fails the delivery is given up. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

/** Each wait is moved by up to ±10 % at random, so failures do not come back in lockstep. */
export const WEBHOOK_RETRY_JITTER = 0.1;

/** A receiver's Retry-After is honoured up to this long (a longer one waits this long). */
export const RETRY_AFTER_MAX_MS = 24 * HOUR;

/** An endpoint that throttles without a Retry-After pauses 5 s, 20 s, 80 s, ... at most 1 hour. */
export const THROTTLE_BASE_MS = 5 * SECOND;
export const THROTTLE_MAX_MS = HOUR;

/** Status codes that mean "you are sending too fast / I am overloaded": the endpoint is paused. */
export const THROTTLE_STATUSES: readonly number[] = [429, 502, 503, 504];

/**
 * The wait after failed attempt `attempt` (1-based), with jitter, or null when that was the last
 * attempt of the schedule.
 */
export function scheduledRetryDelayMs(attempt: number, random: () => number = Math.random) {
  const base = WEBHOOK_RETRY_DELAYS_MS[attempt - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 + WEBHOOK_RETRY_JITTER * (2 * random() - 1)));
}

/**
 * A Retry-After header (RFC 9110: seconds, or an HTTP date) as a wait in milliseconds from `now`,
 * at most RETRY_AFTER_MAX_MS; a date in the past is 0. Null when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | null {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return null;
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * SECOND;
  else {
    const at = Date.parse(v);
    if (!Number.isFinite(at) || !/[a-z]/i.test(v)) return null;
    ms = at - now.getTime();
  }
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms));
}

/** How long an endpoint is paused after its `strikes`-th throttling answer in a row (1-based). */
export function throttleWindowMs(strikes: number): number {
  return Math.min(THROTTLE_MAX_MS, THROTTLE_BASE_MS * 4 ** Math.max(0, strikes - 1));
}

function human(ms: number): string {
  if (ms < MINUTE) return `${ms / SECOND} s`;
  if (ms < HOUR) return `${ms / MINUTE} min`;
  return `${ms / HOUR} h`;
}

/** "immediately, then 5 s, 5 min, … after the previous failure (10 attempts over 75 h 35 min)". */
export function describeWebhookSchedule(): string {
  const total = WEBHOOK_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
  const span = `${Math.floor(total / HOUR)} h ${Math.floor((total % HOUR) / MINUTE)} min`;
  return `immediately, then ${WEBHOOK_RETRY_DELAYS_MS.map(human).join(", ")} after the previous failure (${WEBHOOK_MAX_ATTEMPTS} attempts over ${span})`;
}
