import type { Db } from "~/db/db.server";
import type { Channel, LocalizedText } from "~/db/schema";
import { getMailSettings, type MailSettings } from "~/mail/notices.server";
import {
  DEFAULT_BRANDING,
  getBranding,
  listReasons,
  type Branding,
  type UnsubscribeReason,
} from "~/settings/settings.server";

/**
 * Operator settings that every recipient page reads (branding, topics, unsubscribe reasons),
 * kept in process for a few seconds: token pages are a hot path (mail security gateways open
 * every link of every message) and these change rarely.
 *
 * Staleness: servers are stateless and do not tell each other about edits, so a change made in
 * the admin area shows on recipient pages within CACHE_TTL_MS on every server (at once on the
 * server that made it, if it calls clearRecipientCache). Consent itself is never cached.
 */
export const CACHE_TTL_MS = 5_000;

type Entry = { at: number; value: Promise<unknown> };
// Keyed by handle: one in a server, one per test file.
const caches = new Map<Db, Map<string, Entry>>();

function cached<T>(db: Db, key: string, load: () => Promise<T>): Promise<T> {
  let map = caches.get(db);
  if (!map) caches.set(db, (map = new Map()));
  const hit = map.get(key);
  const now = Date.now();
  if (hit && now - hit.at < CACHE_TTL_MS) return hit.value as Promise<T>;
  const value = load();
  const entry = { at: now, value };
  map.set(key, entry);
  // A failed load is not kept: the next request tries again.
  value.catch(() => {
    if (map!.get(key) === entry) map!.delete(key);
  });
  return value;
}

/** Drops this process's cached settings (call after an admin edit, or when a test changes them). */
export function clearRecipientCache(): void {
  caches.clear();
}

// The branding last read from the database, for pages shown while it cannot be read (the
// "temporarily unavailable" page keeps the operator's name and colours).
let lastGoodBranding: Branding | null = null;

export function cachedBranding(db: Db): Promise<Branding> {
  return cached(db, "branding", async () => {
    try {
      return (lastGoodBranding = await getBranding(db));
    } catch {
      return lastGoodBranding ?? DEFAULT_BRANDING;
    }
  });
}

/** Forgets every cached setting and the last good branding (tests: a new file, a new database). */
export function resetRecipientCacheForTests(): void {
  clearRecipientCache();
  lastGoodBranding = null;
}

/** The branding this process last read, or the defaults (never touches the database). */
export function lastKnownBranding(): Branding {
  return lastGoodBranding ?? DEFAULT_BRANDING;
}

export type TopicInfo = {
  key: string;
  names: LocalizedText;
  descriptions: LocalizedText;
  channels: Channel[];
  defaultOptIn: boolean;
  archived: boolean;
};

/** Every topic (archived ones too, flagged), in the operator's order. */
export function cachedTopics(db: Db): Promise<TopicInfo[]> {
  return cached(db, "topics", async () => {
    const rows = await db
      .selectFrom("topics")
      .select(["key", "names", "descriptions", "channels", "default_opt_in", "archived_at"])
      .orderBy("position")
      .orderBy("key")
      .execute();
    return rows.map((r) => ({
      key: r.key,
      names: r.names ?? {},
      descriptions: r.descriptions ?? {},
      channels: r.channels,
      defaultOptIn: r.default_opt_in,
      archived: r.archived_at !== null,
    }));
  });
}

/** The enabled unsubscribe reasons, in the operator's order. */
export function cachedReasons(db: Db): Promise<UnsubscribeReason[]> {
  return cached(db, "reasons", () => listReasons(db));
}

export type FrequencyOptionInfo = {
  channel: Channel;
  key: string;
  labels: LocalizedText;
  windowDays: number | null;
};

/** The operator's frequency options (Admin → Frequency), per channel in the operator's order. */
export function cachedFrequencyOptions(db: Db): Promise<FrequencyOptionInfo[]> {
  return cached(db, "frequency", async () => {
    const rows = await db
      .selectFrom("frequency_options")
      .select(["channel", "key", "labels", "window_days"])
      .orderBy("channel")
      .orderBy("position")
      .orderBy("key")
      .execute();
    return rows.map((r) => ({
      channel: r.channel,
      key: r.key,
      labels: r.labels ?? {},
      windowDays: r.window_days,
    }));
  });
}

/** The operator's mail settings ("you have been unsubscribed" email on or off). */
export function cachedMailSettings(db: Db): Promise<MailSettings> {
  return cached(db, "mail", () => getMailSettings(db));
}
