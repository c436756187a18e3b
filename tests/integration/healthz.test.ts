import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, setDatabase } from "~/db/db.server";
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
});
