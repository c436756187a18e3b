import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, setDatabase } from "~/db/db.server";
import { databaseHealth } from "~/http/health.server";
import { loader } from "~/routes/healthz";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

describe("/healthz", () => {
  it("answers 200 with the database status when the database answers", async () => {
    setDatabase(t);
    const res = await loader();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ status: "ok", database: { ok: true } });
  });

  it("answers 503 when the database is down", async () => {
    // Nothing listens on port 1: every connection attempt is refused.
    const down = await openPostgres("postgres://heed@127.0.0.1:1/heed", 1);
    setDatabase(down);
    try {
      const res = await loader();
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        status: "unavailable",
        database: { kind: "postgres", ok: false },
      });
    } finally {
      await down.close();
    }
  });

  it("shares one ping between concurrent requests and never reuses a finished one", async () => {
    setDatabase(t);
    const first = databaseHealth(t);
    expect(databaseHealth(t)).toBe(first); // in flight: the same ping
    expect((await first).status).toBe(200);
    const next = databaseHealth(t);
    expect(next).not.toBe(first); // finished: a new ping, nothing cached
    expect((await next).body.database.ok).toBe(true);
    expect((await loader()).headers.get("retry-after")).toBeNull();
  });

  it("answers 503 with Retry-After on the first ping after the database went away", async () => {
    const down = await openPostgres("postgres://heed@127.0.0.1:1/heed", 1);
    try {
      expect((await databaseHealth(t)).status).toBe(200);
      setDatabase(down);
      const res = await loader();
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    } finally {
      await down.close();
    }
  });
});
