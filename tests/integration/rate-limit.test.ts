import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hitRateLimit, resetRateLimit } from "~/security/rate-limit.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

describe("database rate limits", () => {
  it("allow up to the limit in a window, then refuse with a retry time", async () => {
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await hitRateLimit(t.db, "test:a", { limit: 3, windowSeconds: 60 }));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterSeconds).toBeGreaterThan(0);
    expect(results[3]!.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another key has its own counter.
    expect((await hitRateLimit(t.db, "test:b", { limit: 3, windowSeconds: 60 })).allowed).toBe(
      true,
    );
  });

  it("start a new window when the old one has ended, and can be reset", async () => {
    for (let i = 0; i < 3; i++) await hitRateLimit(t.db, "test:c", { limit: 2, windowSeconds: 60 });
    await sql`update rate_limits set window_start = now() - interval '61 seconds' where key = 'test:c'`.execute(
      t.db,
    );
    expect(await hitRateLimit(t.db, "test:c", { limit: 2, windowSeconds: 60 })).toMatchObject({
      allowed: true,
      count: 1,
    });
    await resetRateLimit(t.db, "test:c");
    expect(await hitRateLimit(t.db, "test:c", { limit: 2, windowSeconds: 60 })).toMatchObject({
      count: 1,
    });
  });

  it("count concurrent hits exactly (one atomic upsert each)", async () => {
    const hits = await Promise.all(
      Array.from({ length: 30 }, () =>
        hitRateLimit(t.db, "test:d", { limit: 10, windowSeconds: 60 }),
      ),
    );
    expect(hits.filter((h) => h.allowed)).toHaveLength(10);
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });
});
