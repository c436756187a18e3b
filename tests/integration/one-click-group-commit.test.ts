/**
 * One-click group commit (docs/decisions/0107): concurrent link unsubscribes of one database are
 * written together by unsubscribeByLinkBatch, with every rule of the single statement. Real
 * database, functional only (no timing).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedgerChain } from "~/consent/chain.server";
import { addressKey } from "~/consent/consent.server";
import {
  unsubscribeByLinkBatch,
  unsubscribeByLinkCoalesced,
  unsubscribeByLinkStatement,
  type LinkUnsubscribeInput,
} from "~/consent/link-unsubscribe.server";
import type { Db } from "~/db/db.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  const endpoint = await createWebhookEndpoint(
    db,
    { url: "http://127.0.0.1:9/hook", eventTypes: ["consent.unsubscribe"] },
    { allowPrivate: true, requireHttps: false },
  );
  if (!endpoint.ok) throw new Error(endpoint.reason);
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
function press(over: Partial<LinkUnsubscribeInput> = {}): LinkUnsubscribeInput & {
  address: string;
} {
  n++;
  const address = `group.${n}@example.com`;
  return {
    channel: "email",
    addressHash: addressKey(address),
    address,
    topic: null,
    source: "one_click",
    contactId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    campaign: `camp-${n}`,
    ip: `198.51.100.${n % 250}`,
    userAgent: `agent-${n}`,
    ...over,
  } as LinkUnsubscribeInput & { address: string };
}

async function ledgerOf(hash: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("address_hash", "=", hash)
    .orderBy("id")
    .execute();
}

async function webhookLedgerIds(): Promise<number[]> {
  const rows = await db
    .selectFrom("outbox")
    .select("payload")
    .where("kind", "=", "webhook")
    .execute();
  return rows.map((r) => Number((r.payload as { ledgerId: number }).ledgerId));
}

async function expectRecorded(p: ReturnType<typeof press>, ledgerId: number | null) {
  const rows = await ledgerOf(p.addressHash);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    id: ledgerId,
    action: "unsubscribe",
    topic: null,
    source: "one_click",
    campaign: p.campaign,
    contact_id: p.contactId,
    address: p.address,
    actor_type: "recipient",
    actor_id: p.contactId,
    ip: p.ip,
    user_agent: p.userAgent,
  });
  const state = await db
    .selectFrom("channel_consent")
    .select(["status", "last_ledger_id", "address"])
    .where("address_hash", "=", p.addressHash)
    .executeTakeFirstOrThrow();
  expect(state).toEqual({ status: "unsubscribed", last_ledger_id: ledgerId, address: p.address });
}

describe("one-click group commit", () => {
  it("many concurrent presses of distinct addresses: each recorded once, with its own source, campaign, ip and user agent, and one webhook delivery per ledger row", async () => {
    const presses = Array.from({ length: 40 }, () => press());
    const results = await Promise.all(presses.map((p) => unsubscribeByLinkCoalesced(db, p)));
    expect(results.every((r) => r.changed)).toBe(true);
    const hooks = await webhookLedgerIds();
    for (const [i, p] of presses.entries()) {
      await expectRecorded(p, results[i]!.ledgerId);
      expect(hooks.filter((id) => id === results[i]!.ledgerId)).toHaveLength(1);
    }
    expect(new Set(results.map((r) => r.ledgerId)).size).toBe(presses.length);
    // Again, all at once: nothing changes, nothing is written.
    const again = await Promise.all(presses.map((p) => unsubscribeByLinkCoalesced(db, p)));
    expect(again.every((r) => !r.changed && r.ledgerId === null)).toBe(true);
    for (const p of presses) expect(await ledgerOf(p.addressHash)).toHaveLength(1);
    expect((await verifyLedgerChain(db)).ok).toBe(true);
  });

  it("concurrent presses of the same address: exactly one ledger row, every caller answered, changed exactly once", async () => {
    const p = press();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => unsubscribeByLinkCoalesced(db, { ...p })),
    );
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    await expectRecorded(p, results.find((r) => r.changed)!.ledgerId);
  });

  it("the batch statement: inputs in any order, a repeat in the batch answers changed:false, an address already unsubscribed writes nothing, an unknown address takes the state's", async () => {
    const already = press();
    await unsubscribeByLinkStatement(db, already);
    // A subscribed state row that knows the address; the press does not (a deleted contact).
    const known = press();
    await db
      .insertInto("channel_consent")
      .values({
        channel: "email",
        address_hash: known.addressHash,
        address: known.address,
        status: "subscribed",
      })
      .execute();
    const fresh = [press(), press(), press()];
    const inputs = [
      fresh[2]!,
      already,
      { ...known, address: null },
      fresh[0]!,
      fresh[2]!,
      fresh[1]!,
    ];
    const out = await unsubscribeByLinkBatch(db, inputs);
    expect(out.map((r) => r.changed)).toEqual([true, false, true, true, false, true]);
    expect(out[4]!.ledgerId).toBeNull();
    for (const [i, p] of fresh.entries()) {
      await expectRecorded(p, out[[3, 5, 0][i]!]!.ledgerId);
    }
    await expectRecorded(known, out[2]!.ledgerId);
    expect(await ledgerOf(already.addressHash)).toHaveLength(1);
    expect((await verifyLedgerChain(db)).ok).toBe(true);
  });

  it("a batch whose statement fails for one item: the others are still recorded, the bad one gets its own error", async () => {
    const good = Array.from({ length: 6 }, () => press());
    const bad = press({ contactId: "not-a-uuid" });
    // Straight to the statement: one bad item fails the whole statement (nothing written).
    await expect(unsubscribeByLinkBatch(db, [good[0]!, bad])).rejects.toThrow();
    expect(await ledgerOf(good[0]!.addressHash)).toHaveLength(0);
    // Through the coalescer, all at once (the first press runs alone, the rest in one batch).
    const settled = await Promise.allSettled(
      [good[0]!, good[1]!, good[2]!, bad, good[3]!, good[4]!, good[5]!].map((p) =>
        unsubscribeByLinkCoalesced(db, p),
      ),
    );
    expect(settled[3]!.status).toBe("rejected");
    const ok = settled.filter((s) => s.status === "fulfilled");
    expect(ok).toHaveLength(6);
    for (const p of good) expect(await ledgerOf(p.addressHash)).toHaveLength(1);
    expect(await ledgerOf(bad.addressHash)).toHaveLength(0);
  });

  it("a bad address hash fails its own caller, never a batch; a call inside a transaction stays in it", async () => {
    const p = press();
    const settled = await Promise.allSettled([
      unsubscribeByLinkCoalesced(db, press()),
      unsubscribeByLinkCoalesced(db, { ...press(), addressHash: "nope" }),
      unsubscribeByLinkCoalesced(db, press()),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    await expect(
      db.transaction().execute(async (trx) => {
        await unsubscribeByLinkCoalesced(trx, p);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await ledgerOf(p.addressHash)).toHaveLength(0);
  });
});
