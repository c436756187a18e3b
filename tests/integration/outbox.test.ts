import { sql } from "kysely";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { enqueueOutbox, listOutbox, countOutbox, retryOutboxMessage } from "~/outbox/outbox.server";
import type { Transport, TransportContext } from "~/outbox/types";
import {
  claimDueMessages,
  retryDelayMs,
  runOutboxOnce,
  type RetryPolicy,
} from "~/outbox/worker.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { waitForDatabaseClock } from "../setup/wait";

let t: TestDatabase;
let db: Db;
let ctx: TransportContext;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  ctx = { db, env: getEnv(), logger: pino({ level: "silent" }) };
});
afterAll(async () => {
  await t?.close();
});

async function row(id: number) {
  return db.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}
/** Makes a waiting message due now (instead of sleeping through its backoff). */
async function makeDue(id: number) {
  await sql`update outbox set next_attempt_at = now() - interval '1 second' where id = ${id}`.execute(
    db,
  );
}
async function clear() {
  await db.deleteFrom("outbox").execute();
}

const POLICY: RetryPolicy = { baseMs: 10_000, maxMs: 60_000 };
const ok: Transport = async () => ({ ok: true });

describe("retries", () => {
  it("retries a failing transport with exponential backoff and ends dead after max_attempts", async () => {
    await clear();
    let calls = 0;
    const failing: Transport = async (d) => {
      calls++;
      expect(d.attempts).toBe(calls - 1);
      return { ok: false, error: "connection refused" };
    };
    const id = await enqueueOutbox(db, {
      kind: "email",
      recipient: "retry@example.com",
      payload: {},
      maxAttempts: 5,
    });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const before = Date.now();
      const stats = await runOutboxOnce(ctx, {
        transports: { email: failing },
        retry: POLICY,
        random: () => 1,
      });
      const r = await row(id);
      expect(r.attempts).toBe(attempt);
      expect(r.last_error).toBe(`attempt ${attempt}: connection refused`);
      if (attempt < 5) {
        expect(stats).toMatchObject({ claimed: 1, retried: 1, dead: 0 });
        expect(r.status).toBe("pending");
        expect(r.locked_until).toBeNull();
        delays.push(Math.round((r.next_attempt_at.getTime() - before) / 1000));
        // Not due yet: a run now claims nothing.
        expect((await runOutboxOnce(ctx, { transports: { email: failing } })).claimed).toBe(0);
        await makeDue(id);
      } else {
        expect(stats).toMatchObject({ claimed: 1, retried: 0, dead: 1 });
        expect(r.status).toBe("dead");
      }
    }
    // 10 s, 20 s, 40 s, then capped at 60 s (measured from before the run: a busy machine may
    // add a second or two between that moment and the database's clock reading).
    const expected = [10, 20, 40, 60];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(expected[i]! - 1);
      expect(d).toBeLessThanOrEqual(expected[i]! + 2);
    });
    expect(calls).toBe(5);
    // Dead is final: nothing claims it again.
    await makeDue(id);
    expect((await runOutboxOnce(ctx, { transports: { email: failing } })).claimed).toBe(0);
  });

  it("follows the worker's clock, a transport's retry time, and gives back an attempt nothing was sent in", async () => {
    await clear();
    const id = await enqueueOutbox(db, {
      kind: "email",
      recipient: "clock@example.com",
      payload: {},
    });
    const t0 = new Date(Date.now() + 1000);
    const retryAt = new Date(t0.getTime() + 3 * 3600_000);
    const later: Transport = async () => ({ ok: false, error: "busy", retryAt });
    expect(await runOutboxOnce(ctx, { transports: { email: later }, now: () => t0 })).toMatchObject(
      {
        retried: 1,
      },
    );
    expect(await row(id)).toMatchObject({
      status: "pending",
      attempts: 1,
      next_attempt_at: retryAt,
    });
    // Due by the worker's clock, not the wall clock.
    const almost = new Date(retryAt.getTime() - 1);
    expect(
      (await runOutboxOnce(ctx, { transports: { email: ok }, now: () => almost })).claimed,
    ).toBe(0);
    const paused = new Date(retryAt.getTime() + 60_000);
    const notSent: Transport = async () => ({
      ok: false,
      error: "receiver paused",
      notAttempted: true,
      retryAt: paused,
    });
    expect(
      await runOutboxOnce(ctx, { transports: { email: notSent }, now: () => retryAt }),
    ).toMatchObject({ claimed: 1, deferred: 1, retried: 0 });
    // The attempt is given back, the last real error kept.
    expect(await row(id)).toMatchObject({
      status: "pending",
      attempts: 1,
      next_attempt_at: paused,
      last_error: "attempt 1: busy",
    });
    expect(
      await runOutboxOnce(ctx, { transports: { email: ok }, now: () => paused }),
    ).toMatchObject({
      sent: 1,
    });
    expect(await row(id)).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("spreads retries with jitter between half and all of the exponential delay", () => {
    expect(retryDelayMs(1, POLICY, () => 0)).toBe(5_000);
    expect(retryDelayMs(1, POLICY, () => 1)).toBe(10_000);
    expect(retryDelayMs(3, POLICY, () => 0.5)).toBe(30_000);
    expect(retryDelayMs(30, POLICY, () => 1)).toBe(60_000);
    const samples = Array.from({ length: 200 }, () => retryDelayMs(2, POLICY));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(10_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(20_000);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });

  it("a message whose kind has no transport fails with a clear error, like any failure", async () => {
    await clear();
    const id = await enqueueOutbox(db, {
      kind: "sms",
      recipient: "+48601000000",
      payload: { body: "x" },
      maxAttempts: 2,
    });
    await runOutboxOnce(ctx, { transports: { email: ok }, retry: POLICY });
    expect(await row(id)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_error: 'attempt 1: no transport for outbox kind "sms" (app/outbox/transports.server.ts)',
    });
    await makeDue(id);
    await runOutboxOnce(ctx, { transports: { email: ok }, retry: POLICY });
    expect(await row(id)).toMatchObject({ status: "dead", attempts: 2 });
  });

  it("a permanent failure or a thrown error: dead at once, or retried", async () => {
    await clear();
    const permanent = await enqueueOutbox(db, {
      kind: "email",
      recipient: "gone@example.com",
      payload: {},
    });
    await runOutboxOnce(ctx, {
      transports: {
        email: async () => ({ ok: false, error: "550 no such user", permanent: true }),
      },
    });
    expect(await row(permanent)).toMatchObject({
      status: "dead",
      attempts: 1,
      last_error: "attempt 1: 550 no such user",
    });

    const throws = await enqueueOutbox(db, {
      kind: "email",
      recipient: "boom@example.com",
      payload: {},
    });
    await runOutboxOnce(ctx, {
      transports: {
        email: async () => {
          throw new Error("socket hang up");
        },
      },
    });
    expect(await row(throws)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_error: "attempt 1: socket hang up",
    });
  });
});

describe("leases", () => {
  it("a crashed worker's lease expires and another worker delivers the message", async () => {
    await clear();
    const id = await enqueueOutbox(db, {
      kind: "email",
      recipient: "crash@example.com",
      payload: {},
    });
    // A worker claims it and dies before finishing.
    const claimed = await claimDueMessages(db, { limit: 10, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id)).toEqual([id]);
    expect(await row(id)).toMatchObject({ status: "sending", attempts: 1 });
    // While the lease holds, nobody else takes it.
    expect((await runOutboxOnce(ctx, { transports: { email: ok } })).claimed).toBe(0);
    await sql`update outbox set locked_until = now() - interval '1 second' where id = ${id}`.execute(
      db,
    );
    expect(await runOutboxOnce(ctx, { transports: { email: ok } })).toMatchObject({
      claimed: 1,
      sent: 1,
    });
    const r = await row(id);
    expect(r).toMatchObject({ status: "sent", attempts: 2, locked_until: null });
    expect(r.sent_at).toBeInstanceOf(Date);
  });

  it("a crash on the last allowed attempt ends dead instead of retrying forever", async () => {
    await clear();
    const id = await enqueueOutbox(db, {
      kind: "email",
      recipient: "crash2@example.com",
      payload: {},
      maxAttempts: 1,
    });
    await claimDueMessages(db, { limit: 10, leaseMs: 60_000 });
    await sql`update outbox set locked_until = now() - interval '1 second' where id = ${id}`.execute(
      db,
    );
    expect((await runOutboxOnce(ctx, { transports: { email: ok } })).claimed).toBe(0);
    expect((await row(id)).status).toBe("dead");
    expect((await row(id)).last_error).toMatch(/lease expired/);
  });

  it("a worker whose lease ran out cannot overwrite the newer attempt", async () => {
    await clear();
    const id = await enqueueOutbox(db, {
      kind: "email",
      recipient: "slow@example.com",
      payload: {},
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let delivering!: () => void;
    const started = new Promise<void>((r) => (delivering = r));
    const slowFailing: Transport = async () => {
      delivering();
      await gate;
      return { ok: false, error: "too late" };
    };
    // Worker 1 claims with a lease that is over at once, and hangs in the delivery.
    const first = runOutboxOnce(ctx, { transports: { email: slowFailing }, leaseMs: 1 });
    await started;
    const claimed = await row(id);
    expect(claimed).toMatchObject({ status: "sending", attempts: 1 });
    await waitForDatabaseClock(db, claimed.locked_until!);
    // Worker 2 takes the expired lease over and delivers.
    expect(await runOutboxOnce(ctx, { transports: { email: ok } })).toMatchObject({
      claimed: 1,
      sent: 1,
    });
    release();
    expect(await first).toMatchObject({ claimed: 1, sent: 0, retried: 0, dead: 0 });
    expect(await row(id)).toMatchObject({ status: "sent", attempts: 2, last_error: null });
  });
});

describe("admin view", () => {
  it("lists dead messages and retries one with a fresh set of attempts", async () => {
    await clear();
    const dead = await enqueueOutbox(db, {
      kind: "email",
      recipient: "dead@example.com",
      payload: { subject: "Hello" },
      maxAttempts: 1,
    });
    const sent = await enqueueOutbox(db, {
      kind: "email",
      recipient: "fine@example.com",
      payload: { subject: "Fine" },
    });
    await runOutboxOnce(ctx, {
      transports: {
        email: async (d) =>
          d.recipient === "dead@example.com" ? { ok: false, error: "nope" } : { ok: true },
      },
    });
    expect(await countOutbox(db)).toEqual({ pending: 0, sending: 0, sent: 1, dead: 1, expired: 0 });
    const list = await listOutbox(db, { status: "dead" });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      id: dead,
      recipient: "dead@example.com",
      status: "dead",
      attempts: 1,
      title: "Hello",
      lastError: "attempt 1: nope",
    });
    expect((await listOutbox(db)).map((m) => m.id)).toEqual([sent, dead]);
    expect((await listOutbox(db, { recipient: "DEAD@" })).map((m) => m.id)).toEqual([dead]);
    expect(await listOutbox(db, { recipient: "%" })).toEqual([]);

    expect(await retryOutboxMessage(db, sent)).toBe(false);
    expect(await retryOutboxMessage(db, 999_999)).toBe(false);
    expect(await retryOutboxMessage(db, dead)).toBe(true);
    expect(await row(dead)).toMatchObject({
      status: "pending",
      attempts: 0,
      last_error: "attempt 1: nope",
    });
    expect(await runOutboxOnce(ctx, { transports: { email: ok } })).toMatchObject({ sent: 1 });
    expect(await row(dead)).toMatchObject({ status: "sent", attempts: 1 });
  });
});

describe("several workers", () => {
  it("two workers running at once never send the same message twice", async () => {
    await clear();
    const total = 300;
    await db
      .insertInto("outbox")
      .values(
        Array.from({ length: total }, (_, i) => ({
          kind: "email" as const,
          recipient: `w${i}@example.com`,
          payload: JSON.stringify({ i }),
        })),
      )
      .execute();
    // On PostgreSQL each worker gets its own connection pool, like two servers.
    const second = t.url ? await openPostgres(t.url, 5) : null;
    const deliveries = new Map<number, string[]>();
    const transportFor =
      (worker: string): Transport =>
      async (d) => {
        deliveries.set(d.id, [...(deliveries.get(d.id) ?? []), worker]);
        // Deliveries of uneven length (0 to 3 turns of the event loop), so the workers interleave.
        for (let turns = Math.floor(Math.random() * 4); turns > 0; turns--) {
          await new Promise((r) => setImmediate(r));
        }
        return { ok: true };
      };
    try {
      const run = (name: string, wdb: Db) =>
        runOutboxOnce(
          { ...ctx, db: wdb },
          {
            transports: { email: transportFor(name) },
            batchSize: 7,
            concurrency: 3,
            maxBatches: 1000,
          },
        );
      const [a, b] = await Promise.all([run("a", db), run("b", second?.db ?? db)]);
      expect(a.claimed + b.claimed).toBe(total);
      expect(deliveries.size).toBe(total);
      expect([...deliveries.values()].filter((w) => w.length !== 1)).toEqual([]);
      if (second) {
        // Both really worked (a test where one worker did everything would prove nothing).
        expect(a.sent).toBeGreaterThan(0);
        expect(b.sent).toBeGreaterThan(0);
      }
      expect(await countOutbox(db)).toEqual({
        pending: 0,
        sending: 0,
        sent: total,
        dead: 0,
        expired: 0,
      });
    } finally {
      await second?.close();
    }
  });
});
