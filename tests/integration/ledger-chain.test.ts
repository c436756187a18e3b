import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyPreparedBulkUnsubscribe,
  bulkUnsubscribe,
  chainPreparedBulkUnsubscribe,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeOptions,
} from "~/consent/bulk.server";
import {
  createLedgerCheckpoint,
  ledgerProofFor,
  verifyLedgerChain,
  verifyLedgerProof,
} from "~/consent/chain.server";
import { addressKey, applyConsentChange, applyConsentChanges } from "~/consent/consent.server";
import { eraseContact } from "~/consent/erasure.server";
import type { Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { readUntil } from "./db.helpers";

/**
 * The chained ledger (docs/consent.md#proof-of-consent): every writer chains, the whole ledger
 * and one person's proof verify, and an edited, deleted or reordered row is found. Each tamper
 * runs in a transaction that is rolled back, so the cases do not disturb each other.
 */
let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto("topics")
    .values({ key: "news", names: { en: "News" }, descriptions: {}, channels: ["email"] })
    .execute();
});
afterAll(async () => {
  await t?.close();
});

const admin = { actor: { type: "admin_user" as const, id: null, label: "chain-test@heed.test" } };

class Rollback extends Error {}

/** Runs a tamper (as the database owner could, triggers off) and the verification, then undoes it. */
async function tampered(
  tamper: (trx: Db) => Promise<unknown>,
): Promise<Awaited<ReturnType<typeof verifyLedgerChain>>> {
  let report: Awaited<ReturnType<typeof verifyLedgerChain>> | undefined;
  await db
    .transaction()
    .execute(async (trx) => {
      await sql`alter table consent_ledger disable trigger user`.execute(trx);
      await tamper(trx);
      await sql`alter table consent_ledger enable trigger user`.execute(trx);
      report = await verifyLedgerChain(trx);
      throw new Rollback();
    })
    .catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return report!;
}

/**
 * Seals checkpoints until every row is in one. A checkpoint only takes transactions older than
 * every transaction still running on the server (on a shared PostgreSQL server, other databases'
 * too), so it may have to wait for someone else's transaction. Returns the rows sealed.
 */
async function sealAll(): Promise<number> {
  let rows = 0;
  const report = await readUntil(
    async () => {
      rows += (await createLedgerCheckpoint(db))?.rows ?? 0;
      return verifyLedgerChain(db);
    },
    (r) => r.uncheckpointed === 0,
  );
  if (report.uncheckpointed !== 0)
    throw new Error("the checkpoint horizon never passed this test's rows");
  return rows;
}

async function ledgerIds(address: string): Promise<number[]> {
  const rows = await db
    .selectFrom("consent_ledger")
    .select("id")
    .where("address_hash", "=", addressKey(address))
    .orderBy("id")
    .execute();
  return rows.map((r) => Number(r.id));
}

describe("the chained ledger", () => {
  beforeAll(async () => {
    // Every way in: one change, a multi-address save, the bulk door.
    await applyConsentChange(db, {
      channel: "email",
      address: "chain.a@example.org",
      action: "topic_opt_out",
      topic: "news",
      source: "preference_page",
      ip: "203.0.113.5",
      userAgent: "Mozilla/5.0 (chain test) – ü",
      details: { note: "zażółć" },
    });
    await applyConsentChanges(db, [
      {
        channel: "email",
        address: "chain.a@example.org",
        action: "pause",
        pausedUntil: new Date(Date.now() + 30 * 86_400_000),
        source: "preference_page",
      },
      { channel: "email", address: "chain.b@example.org", action: "unsubscribe", source: "link" },
    ]);
    await applyConsentChange(db, {
      channel: "email",
      address: "chain.a@example.org",
      action: "unsubscribe",
      source: "one_click",
      campaign: "winter",
    });
    await bulkUnsubscribe(
      db,
      [
        { channel: "email", address: "chain.c@example.org", reasonText: "imported" },
        { channel: "email", address: "chain.a@example.org" },
        { channel: "sms", address: "+48601000111" },
      ],
      { source: "import", note: "import unsubscribe", importId: null },
    );
  });

  it("links each row to the previous row of its address, and verifies", async () => {
    const rows = await db
      .selectFrom("consent_ledger")
      .select(["id", "prev_hash", "row_hash"])
      .where("address_hash", "=", addressKey("chain.a@example.org"))
      .orderBy("id")
      .execute();
    expect(rows).toHaveLength(3);
    expect(rows[0]!.prev_hash).toBeNull();
    expect(Buffer.from(rows[1]!.prev_hash!).equals(Buffer.from(rows[0]!.row_hash))).toBe(true);
    expect(Buffer.from(rows[2]!.prev_hash!).equals(Buffer.from(rows[1]!.row_hash))).toBe(true);
    const report = await verifyLedgerChain(db);
    expect(report).toMatchObject({ ok: true, problemCount: 0, chains: 4, redacted: 0 });
    expect(report.rows).toBe(6);
  });

  it("refuses a second first row for an address (a fork)", async () => {
    const [row] = await db
      .selectFrom("consent_ledger")
      .selectAll()
      .where("address_hash", "=", addressKey("chain.b@example.org"))
      .execute();
    // Even written around the trigger, a second chain start for the address is refused.
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`alter table consent_ledger disable trigger consent_ledger_chain`.execute(trx);
        await sql`insert into consent_ledger (channel, address_hash, action, source, evidence_hash, row_hash)
          values ('email', ${row!.address_hash}, 'unsubscribe', 'api', '\\x00', '\\x00')`.execute(
          trx,
        );
      }),
    ).rejects.toThrow(/consent_ledger_chain_start_idx|duplicate key/);
  });

  it("finds an edited row", async () => {
    const [, second] = await ledgerIds("chain.a@example.org");
    const report = await tampered((trx) =>
      sql`update consent_ledger set action = 'resume', paused_until = null where id = ${second}`.execute(
        trx,
      ),
    );
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ id: second, problem: "row_hash" }),
    );
  });

  it("finds edited personal evidence (not by an erasure)", async () => {
    const [first] = await ledgerIds("chain.a@example.org");
    const report = await tampered((trx) =>
      sql`update consent_ledger set ip = '198.51.100.1' where id = ${first}`.execute(trx),
    );
    expect(report.problems).toEqual([expect.objectContaining({ id: first, problem: "evidence" })]);
  });

  it("finds a deleted row, even when the next row's hashes are recomputed", async () => {
    const [first, second, third] = await ledgerIds("chain.a@example.org");
    const report = await tampered((trx) =>
      sql`delete from consent_ledger where id = ${second}`.execute(trx),
    );
    expect(report.problems).toEqual([expect.objectContaining({ id: third, problem: "link" })]);
    void first;
  });

  it("finds reordered rows (two rows' contents swapped)", async () => {
    const [first, second] = await ledgerIds("chain.a@example.org");
    const report = await tampered(async (trx) => {
      await sql`update consent_ledger l set
          action = o.action, topic = o.topic, paused_until = o.paused_until, source = o.source
        from consent_ledger o
        where (l.id, o.id) in ((${first}, ${second}), (${second}, ${first}))`.execute(trx);
    });
    const ids = report.problems.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining([first, second]));
  });

  it("a checkpoint catches a deleted last row, and a rewritten chain", async () => {
    expect(await sealAll()).toBe(6);
    expect(await createLedgerCheckpoint(db)).toBeNull();
    expect((await verifyLedgerChain(db)).ok).toBe(true);
    const ids = await ledgerIds("chain.a@example.org");
    const last = ids.at(-1)!;
    // The last row of a chain: no later row names it; only the checkpoint does.
    const deleted = await tampered((trx) =>
      sql`delete from consent_ledger where id = ${last}`.execute(trx),
    );
    expect(deleted.problems).toEqual([{ id: expect.any(Number), problem: "checkpoint" }]);
    // Rewriting a row and recomputing its hash (and no later row): the chain itself agrees, the
    // checkpoint does not.
    const rewritten = await tampered((trx) =>
      sql`update consent_ledger set campaign = 'spring',
          row_hash = consent_ledger_row_hash(prev_hash, id, occurred_at, channel, address_hash,
            contact_id, topic, action, source, 'spring', reason_code, actor_type, actor_id,
            paused_until, frequency, evidence_hash)
        where id = ${last}`.execute(trx),
    );
    expect(rewritten.problems).toEqual([{ id: expect.any(Number), problem: "checkpoint" }]);
  });

  it("gives a third party a proof that verifies on its own, and fails when edited", async () => {
    const proof = await ledgerProofFor(db, [addressKey("chain.a@example.org")]);
    expect(proof.chains).toHaveLength(1);
    expect(proof.chains[0]!.rows.map((r) => r.action)).toEqual([
      "topic_opt_out",
      "pause",
      "unsubscribe",
    ]);
    expect(proof.latestCheckpoint).not.toBeNull();
    // A round trip through JSON, as the export hands it over.
    const copy = JSON.parse(JSON.stringify(proof)) as typeof proof;
    expect(verifyLedgerProof(copy)).toMatchObject({ ok: true, rows: 3, redacted: 0 });
    copy.chains[0]!.rows[1]!.occurredAt = "2020-01-01T00:00:00.000000Z";
    expect(verifyLedgerProof(copy).problems).toEqual([
      { id: proof.chains[0]!.rows[1]!.id, problem: "row_hash" },
    ]);
    const dropped = JSON.parse(JSON.stringify(proof)) as typeof proof;
    dropped.chains[0]!.rows.splice(1, 1);
    expect(verifyLedgerProof(dropped).ok).toBe(false);
  });

  it("erasure keeps the chain verifiable, and refuses changes beyond personal data", async () => {
    const [contact] = await db
      .insertInto("contacts")
      .values({ external_id: "chain-erase", email: "chain.erase@example.org" })
      .returning("id")
      .execute();
    await applyConsentChange(db, {
      channel: "email",
      address: "chain.erase@example.org",
      action: "unsubscribe",
      source: "link",
      contactId: contact!.id,
      reasonText: "too many, and write to chain.a@example.org too",
      ip: "203.0.113.7",
    });
    // Another person's free text that names the address: the erasure sweeps it too.
    await applyConsentChange(db, {
      channel: "email",
      address: "chain.d@example.org",
      action: "unsubscribe",
      source: "link",
      reasonText: "my old address was chain.erase@example.org",
    });
    await sealAll();
    await eraseContact(db, contact!.id, admin);
    const report = await verifyLedgerChain(db);
    expect(report).toMatchObject({ ok: true, problemCount: 0 });
    expect(report.redacted).toBe(2);
    const proof = await ledgerProofFor(db, [addressKey("chain.erase@example.org")]);
    expect(proof.chains[0]!.rows.map((r) => r.action)).toEqual(["unsubscribe", "erase"]);
    expect(proof.chains[0]!.rows[0]!.evidence.address).toBeNull();
    expect(verifyLedgerProof(proof)).toMatchObject({ ok: true, rows: 2, redacted: 1 });
    // Even under heed.erasure, only personal columns may change.
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`select set_config('heed.erasure', 'on', true)`.execute(trx);
        await sql`update consent_ledger set action = 'subscribe'
          where address_hash = ${addressKey("chain.erase@example.org")}`.execute(trx);
      }),
    ).rejects.toThrow(/only blank personal columns/);
  });
});

describe("the bulk door's own hashes (decisions/0098)", () => {
  it("keeps them for a chain's first row and lets the database hash an address with history", async () => {
    // History: the database chains these rows itself.
    await applyConsentChange(db, {
      channel: "email",
      address: "given.old@example.org",
      action: "pause",
      pausedUntil: new Date(Date.now() + 30 * 86_400_000),
      source: "preference_page",
    });
    const options: BulkUnsubscribeOptions = {
      source: "api",
      campaign: "spring",
      actor: { type: "api_key", id: "key-1" },
      note: "given hashes",
      ip: "198.51.100.4",
      userAgent: "Test/1.0 (ü)",
      details: { batch: 7 },
    };
    const items = [
      { channel: "email" as const, address: "Given.New@Example.org", reasonText: "zu viele, ça" },
      { channel: "email" as const, address: "given.old@example.org", reasonCode: "too_frequent" },
      { channel: "sms" as const, address: "+48601000222" },
    ];
    // Hashed ahead (what the import does on PostgreSQL), and hashed inside the transaction.
    const ahead = await chainPreparedBulkUnsubscribe(
      db,
      await prepareBulkUnsubscribe(items),
      options,
    );
    expect(ahead.chain?.ids).toHaveLength(3);
    const r = await applyPreparedBulkUnsubscribe(db, ahead, options);
    expect(r).toMatchObject({ imported: 3, alreadySuppressed: 0 });
    await bulkUnsubscribe(db, [{ channel: "whatsapp", address: "+48601000333" }], options);

    const old = await db
      .selectFrom("consent_ledger")
      .select(["action", "prev_hash", "row_hash"])
      .where("address_hash", "=", addressKey("given.old@example.org"))
      .orderBy("id")
      .execute();
    expect(old.map((x) => x.action)).toEqual(["pause", "unsubscribe"]);
    expect(Buffer.from(old[1]!.prev_hash!).equals(Buffer.from(old[0]!.row_hash))).toBe(true);
    const fresh = await db
      .selectFrom("consent_ledger")
      .select(["prev_hash", "address"])
      .where("address_hash", "=", addressKey("given.new@example.org"))
      .executeTakeFirstOrThrow();
    expect(fresh).toMatchObject({ prev_hash: null, address: "given.new@example.org" });
    const report = await verifyLedgerChain(db);
    expect(report).toMatchObject({ ok: true, problemCount: 0 });
    const proof = await ledgerProofFor(db, [
      addressKey("given.new@example.org"),
      addressKey("given.old@example.org"),
    ]);
    expect(verifyLedgerProof(proof)).toMatchObject({ ok: true, rows: 3, redacted: 0 });
  });

  it("ignores given hashes unless the writer asks for it, and never for an address with history", async () => {
    const hash = addressKey("given.forged@example.org");
    const insert = (trx: Db, prev: boolean) =>
      sql<{ row_hash: Buffer }>`insert into consent_ledger
          (channel, address_hash, action, source, evidence_hash, row_hash)
        values ('email', ${hash}, 'unsubscribe', 'import', '\x01'::bytea, '\x02'::bytea)
        returning row_hash, ${prev}::boolean as prev`.execute(trx);
    await db
      .transaction()
      .execute(async (trx) => {
        // Without heed.chain_given the database hashes the row.
        const a = await insert(trx, false);
        expect(Buffer.from(a.rows[0]!.row_hash).toString("hex")).not.toBe("02");
        // With it, the address now has a row: hashed by the database again.
        await sql`select set_config('heed.chain_given', 'on', true)`.execute(trx);
        const b = await insert(trx, true);
        expect(Buffer.from(b.rows[0]!.row_hash).toString("hex")).not.toBe("02");
        throw new Rollback();
      })
      .catch((e) => {
        if (!(e instanceof Rollback)) throw e;
      });
  });
});
