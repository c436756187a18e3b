import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyPreparedBulkUnsubscribe,
  chainPreparedBulkUnsubscribe,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeOptions,
} from "~/consent/bulk.server";
import { verifyLedgerChain } from "~/consent/chain.server";
import { inTransaction, type Db } from "~/db/db.server";
import { SLICE_ROWS } from "~/db/priority.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * The bulk door's hooks for a streaming caller (the import, decisions/0105): the batch's one
 * settings statement can turn off the commit's wait for the disk, and the caller hears once the
 * batch's main statement has been sent — also for a batch with nothing to write, and never for a
 * batch that failed before it (the import then waits for the failure instead). And the CPU half
 * of a batch done ahead, outside its transaction, lets the event loop turn every SLICE_ROWS rows,
 * so requests are answered between its slices (decisions/0113).
 */
let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

const options: BulkUnsubscribeOptions = { source: "import", note: "hooks", importId: null };

describe("bulk door write hooks", () => {
  it("calls onStatementSent once per batch and writes the same rows as without hooks", async () => {
    const items = [
      { channel: "email" as const, address: "hook.one@example.org", reasonCode: "too_frequent" },
      { channel: "email" as const, address: "hook.two@example.org" },
      { channel: "email" as const, address: "not an address" },
    ];
    let sent = 0;
    const prepared = await chainPreparedBulkUnsubscribe(
      db,
      await prepareBulkUnsubscribe(items),
      options,
    );
    const r = await applyPreparedBulkUnsubscribe(db, prepared, options, {
      onStatementSent: () => sent++,
    });
    // The hook runs on a later turn of the event loop than the statement's start; by the end of
    // the batch it has run exactly once.
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toBe(1);
    expect(r).toMatchObject({ imported: 2, alreadySuppressed: 0, duplicates: 0 });
    expect(r.invalid).toHaveLength(1);

    // A batch with nothing valid to write still reports that it is under way.
    let sentEmpty = 0;
    const empty = await prepareBulkUnsubscribe([{ channel: "email", address: "" }]);
    const e = await applyPreparedBulkUnsubscribe(db, empty, options, {
      asyncCommit: true,
      onStatementSent: () => sentEmpty++,
    });
    expect(sentEmpty).toBe(1);
    expect(e).toMatchObject({ imported: 0 });

    const states = await db
      .selectFrom("channel_consent")
      .select(["status"])
      .where("address", "in", ["hook.one@example.org", "hook.two@example.org"])
      .execute();
    expect(states.map((s) => s.status)).toEqual(["unsubscribed", "unsubscribed"]);
    expect(await verifyLedgerChain(db)).toMatchObject({ ok: true, problemCount: 0 });
  });

  it("asyncCommit turns off the commit's wait for the disk in the batch's transaction only", async () => {
    const items = [{ channel: "email" as const, address: "hook.async@example.org" }];
    const inside = await inTransaction(db, async (trx) => {
      await applyPreparedBulkUnsubscribe(trx, await prepareBulkUnsubscribe(items), options, {
        asyncCommit: true,
      });
      const { rows } = await sql<{
        v: string;
      }>`select current_setting('synchronous_commit') as v`.execute(trx);
      return rows[0]!.v;
    });
    expect(inside).toBe("off");
    const { rows } = await sql<{
      v: string;
    }>`select current_setting('synchronous_commit') as v`.execute(db);
    expect(rows[0]!.v).not.toBe("off");
    const row = await db
      .selectFrom("channel_consent")
      .select("status")
      .where("address", "=", "hook.async@example.org")
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("unsubscribed");
  });

  it("does not call onStatementSent when the batch fails before its statement", async () => {
    const items = [{ channel: "email" as const, address: "hook.fail@example.org" }];
    let sent = 0;
    await expect(
      inTransaction(db, async (trx) => {
        // An aborted transaction: the batch's first statement fails.
        await sql`select 1/0`.execute(trx).catch(() => {});
        await applyPreparedBulkUnsubscribe(trx, await prepareBulkUnsubscribe(items), options, {
          onStatementSent: () => sent++,
        });
      }),
    ).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toBe(0);
  });

  it("prepares and hashes a batch ahead in slices, letting the event loop turn between them", async () => {
    /** Counts the event loop's turns (a setImmediate each) until stopped. */
    const turns = () => {
      let n = 0;
      let on = true;
      const tick = () => {
        if (!on) return;
        n++;
        setImmediate(tick);
      };
      setImmediate(tick);
      return () => {
        on = false;
        return n;
      };
    };
    const n = 10_000;
    const items = Array.from({ length: n }, (_, i) => ({
      channel: "email" as const,
      address: `slice.${i}@example.org`,
    }));
    const slices = Math.floor(n / SLICE_ROWS);
    // Normalizing and keying: no I/O at all, so every turn is one the loop was given.
    let stop = turns();
    const prepared = await prepareBulkUnsubscribe(items);
    expect(stop()).toBeGreaterThanOrEqual(slices - 1);
    expect(prepared.p.hashes).toHaveLength(n);
    // Reserving the ids (one query: on PGlite in this thread it never leaves the microtask queue)
    // and hashing the ledger rows.
    stop = turns();
    const ahead = await chainPreparedBulkUnsubscribe(db, prepared, options);
    expect(stop()).toBeGreaterThanOrEqual(slices - 1);
    // Hashed in slices, written as one batch: the same rows and chain as ever.
    const r = await applyPreparedBulkUnsubscribe(db, ahead, options);
    expect(r).toMatchObject({ imported: n, alreadySuppressed: 0, duplicates: 0 });
    expect(await verifyLedgerChain(db)).toMatchObject({ ok: true, problemCount: 0 });
  });
});
