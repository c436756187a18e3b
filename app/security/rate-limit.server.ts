import { sql } from "kysely";
import type { Db } from "~/db/db.server";

export type RateLimitResult = {
  allowed: boolean;
  count: number;
  limit: number;
  retryAfterSeconds: number;
};

/**
 * Fixed-window counter kept in the database, so a limit holds across every app server. One
 * atomic upsert per hit: a new window starts when the previous one has ended.
 * Keys name what is limited, e.g. `manage:ip:203.0.113.9` or `login:account:<hash>`; never put
 * a clear address in a key (hash it).
 */
export async function hitRateLimit(
  db: Db,
  key: string,
  options: { limit: number; windowSeconds: number },
): Promise<RateLimitResult> {
  const { limit, windowSeconds } = options;
  const row = await sql<{ count: number; window_start: Date }>`
    insert into rate_limits (key, window_start, count) values (${key}, now(), 1)
    on conflict (key) do update set
      count = case when rate_limits.window_start <= now() - make_interval(secs => ${windowSeconds})
                   then 1 else rate_limits.count + 1 end,
      window_start = case when rate_limits.window_start <= now() - make_interval(secs => ${windowSeconds})
                   then now() else rate_limits.window_start end
    returning count, window_start`.execute(db);
  const { count, window_start } = row.rows[0]!;
  const ends = window_start.getTime() + windowSeconds * 1000;
  return {
    allowed: count <= limit,
    count,
    limit,
    retryAfterSeconds: Math.max(1, Math.ceil((ends - Date.now()) / 1000)),
  };
}

/** Clears a key (e.g. an account's failed-login counter after a successful login). */
export async function resetRateLimit(db: Db, key: string): Promise<void> {
  await db.deleteFrom("rate_limits").where("key", "=", key).execute();
}

/** Gives back one hit of the current window (an attempt reserved ahead that turned out fine). */
export async function releaseRateLimit(db: Db, key: string): Promise<void> {
  await db
    .updateTable("rate_limits")
    .set({ count: sql<number>`greatest(count - 1, 0)` })
    .where("key", "=", key)
    .execute();
}
