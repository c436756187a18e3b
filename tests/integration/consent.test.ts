import { CompiledQuery, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressKey,
  applyConsentChange,
  applyConsentChanges,
  CHECK_CHUNK,
  ConsentError,
  decideSend,
  decideSendMany,
  readConsent,
  readSendStates,
  type SendState,
} from "~/consent/consent.server";
import { inTransaction, type Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { recordingStatements } from "./db.helpers";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto("topics")
    .values([
      {
        key: "newsletter",
        channels: ["email", "sms"],
        default_opt_in: true,
        names: "{}",
        descriptions: "{}",
      },
      {
        key: "promotions",
        channels: ["email", "sms"],
        default_opt_in: false,
        names: "{}",
        descriptions: "{}",
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
const email = () => `person${++n}@example.com`;
const marketing = (channel: "email" | "sms" | "whatsapp", address: string, topic?: string) =>
  decideSend(db, { channel, address, topic, category: "marketing" });

async function ledgerFor(channel: string, address: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("channel", "=", channel as "email")
    .where("address_hash", "=", addressKey(address))
    .orderBy("id")
    .execute();
}

describe("consent belongs to the address (docs/consent.md, rule 1)", () => {
  it("an unsubscribe blocks every contact that holds the address, and re-importing a contact does not re-subscribe", async () => {
    const address = email();
    const [c1, c2] = await db
      .insertInto("contacts")
      .values([
        { external_id: `ext-${address}-1`, email: address },
        { external_id: `ext-${address}-2`, email: address.toUpperCase() },
      ])
      .returning("id")
      .execute();
    await applyConsentChange(db, {
      channel: "email",
      address: address.toUpperCase(),
      action: "unsubscribe",
      source: "link",
      contactId: c1!.id,
    });
    expect(await marketing("email", address)).toEqual({
      address,
      allowed: false,
      reason: "unsubscribed",
    });
    // Deleting the contact and creating it again changes nothing.
    await db.deleteFrom("contacts").where("id", "in", [c1!.id, c2!.id]).execute();
    await db
      .insertInto("contacts")
      .values({ external_id: `ext-${address}-3`, email: address })
      .execute();
    expect((await marketing("email", `  ${address.toUpperCase()} `)).reason).toBe("unsubscribed");
  });

  it("allows addresses Heed has never seen", async () => {
    expect(await marketing("email", email())).toMatchObject({ allowed: true });
    expect(await marketing("sms", "+48601000001")).toMatchObject({ allowed: true });
  });
});

describe("channels are independent (rule 2)", () => {
  it("unsubscribing SMS leaves email and WhatsApp as they were", async () => {
    const phone = "+48601000002";
    const mail = email();
    await applyConsentChange(db, {
      channel: "sms",
      address: phone,
      action: "unsubscribe",
      source: "sms_keyword",
    });
    expect((await marketing("sms", phone)).reason).toBe("unsubscribed");
    expect((await marketing("whatsapp", phone)).allowed).toBe(true);
    expect((await marketing("email", mail)).allowed).toBe(true);
  });
});

describe("topics vs channel (rule 3)", () => {
  it("a topic opt-out blocks only that topic; a channel-wide unsubscribe blocks all topics", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "topic_opt_out",
      topic: "newsletter",
      source: "preference_page",
    });
    expect((await marketing("email", a, "newsletter")).reason).toBe("topic_unsubscribed");
    expect((await marketing("email", a)).allowed).toBe(true);
    expect((await marketing("sms", "+48601000003", "newsletter")).allowed).toBe(true);
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "unsubscribe",
      source: "preference_page",
    });
    expect((await marketing("email", a, "newsletter")).reason).toBe("unsubscribed");
    expect((await marketing("email", a, "promotions")).reason).toBe("unsubscribed");
  });

  it("a default-off topic needs an explicit opt-in; toggling a topic back on needs no confirmation", async () => {
    const a = email();
    expect((await marketing("email", a, "promotions")).reason).toBe("not_opted_in");
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "topic_opt_in",
      topic: "promotions",
      source: "preference_page",
    });
    expect((await marketing("email", a, "promotions")).allowed).toBe(true);
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "topic_opt_out",
      topic: "newsletter",
      source: "preference_page",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "topic_opt_in",
      topic: "newsletter",
      source: "preference_page",
    });
    expect((await marketing("email", a, "newsletter")).allowed).toBe(true);
  });

  it("refuses unknown topics and topic-less topic actions with a clear error", async () => {
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: email(),
        action: "topic_opt_out",
        topic: "nope",
        source: "api",
      }),
    ).rejects.toMatchObject({ code: "unknown_topic" });
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: email(),
        action: "topic_opt_out",
        source: "api",
      }),
    ).rejects.toMatchObject({ code: "topic_required" });
    await expect(
      decideSend(db, { channel: "email", address: email(), topic: "nope", category: "marketing" }),
    ).rejects.toBeInstanceOf(ConsentError);
  });
});

describe("pause (rule 4)", () => {
  it("pauses a channel until a date, then resumes", async () => {
    const a = email();
    const until = new Date(Date.now() + 30 * 86400_000);
    const r = await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "pause",
      pausedUntil: until,
      source: "preference_page",
    });
    expect(r).toMatchObject({ changed: true, status: "subscribed" });
    expect((await marketing("email", a)).reason).toBe("paused");
    const [state] = await readConsent(db, [{ channel: "email", address: a }]);
    expect(state!.pausedUntil?.getTime()).toBe(until.getTime());
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "resume",
      source: "preference_page",
    });
    expect((await marketing("email", a)).allowed).toBe(true);
  });

  it("refuses a pause in the past and pausing an unsubscribed channel", async () => {
    const a = email();
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: a,
        action: "pause",
        pausedUntil: new Date(Date.now() - 1000),
        source: "preference_page",
      }),
    ).rejects.toMatchObject({ code: "invalid_pause" });
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "unsubscribe",
      source: "link",
    });
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: a,
        action: "pause",
        pausedUntil: new Date(Date.now() + 86400_000),
        source: "preference_page",
      }),
    ).rejects.toMatchObject({ code: "channel_unsubscribed" });
  });

  it("an expired pause no longer blocks", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "pause",
      pausedUntil: new Date(Date.now() + 60_000),
      source: "preference_page",
    });
    await db
      .updateTable("channel_consent")
      .set({ paused_until: new Date(Date.now() - 1000) })
      .where("address_hash", "=", addressKey(a))
      .execute();
    expect((await marketing("email", a)).allowed).toBe(true);
  });
});

describe("re-subscribing needs double opt-in (rule 5)", () => {
  it("refuses a direct re-subscribe from the preference page or the API; a confirmed opt-in re-subscribes", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "unsubscribe",
      source: "one_click",
    });
    for (const source of ["preference_page", "api", "link", "import"] as const) {
      await expect(
        applyConsentChange(db, { channel: "email", address: a, action: "subscribe", source }),
      ).rejects.toMatchObject({
        code: "double_opt_in_required",
      });
    }
    expect((await marketing("email", a)).reason).toBe("unsubscribed");
    const r = await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "subscribe",
      source: "double_opt_in",
      details: { requestId: "r-1" },
    });
    expect(r).toMatchObject({ changed: true, status: "subscribed" });
    expect((await marketing("email", a)).allowed).toBe(true);
  });

  it("a sign-up through Heed is pending until confirmed", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "signup_pending",
      source: "api",
    });
    expect((await marketing("email", a)).reason).toBe("pending_confirmation");
    // A sign-up request never turns an unsubscribed address into anything else.
    const b = email();
    await applyConsentChange(db, {
      channel: "email",
      address: b,
      action: "unsubscribe",
      source: "admin",
    });
    expect(
      (
        await applyConsentChange(db, {
          channel: "email",
          address: b,
          action: "signup_pending",
          source: "api",
        })
      ).changed,
    ).toBe(false);
    expect((await marketing("email", b)).reason).toBe("unsubscribed");
  });

  it("an admin un-suppression needs a note", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "unsubscribe",
      source: "admin",
      reasonText: "called in",
    });
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: a,
        action: "subscribe",
        source: "admin",
      }),
    ).rejects.toMatchObject({
      code: "note_required",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "subscribe",
      source: "admin",
      reasonText: "asked by phone, verified",
    });
    expect((await marketing("email", a)).allowed).toBe(true);
  });
});

describe("the ledger (rule 6)", () => {
  it("records every field, and a repeated identical request writes nothing", async () => {
    const a = email();
    const change = {
      channel: "email" as const,
      address: a,
      action: "unsubscribe" as const,
      source: "one_click" as const,
      campaign: "black-friday",
      reasonCode: "too_frequent",
      reasonText: " weekly is too much ",
      actor: { type: "recipient" as const },
      ip: "203.0.113.9",
      userAgent: "Mozilla/5.0",
    };
    const first = await applyConsentChange(db, change);
    const second = await applyConsentChange(db, change);
    expect(first.changed).toBe(true);
    expect(second).toMatchObject({ changed: false, ledgerId: null, status: "unsubscribed" });
    const rows = await ledgerFor("email", a);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      address: a,
      action: "unsubscribe",
      source: "one_click",
      campaign: "black-friday",
      reason_code: "too_frequent",
      reason_text: "weekly is too much",
      actor_type: "recipient",
      ip: "203.0.113.9",
      user_agent: "Mozilla/5.0",
    });
    expect(rows[0]!.occurred_at).toBeInstanceOf(Date);
  });

  it("is append-only: the database refuses UPDATE, DELETE and TRUNCATE", async () => {
    const a = email();
    await applyConsentChange(db, {
      channel: "email",
      address: a,
      action: "unsubscribe",
      source: "link",
    });
    await expect(
      db.updateTable("consent_ledger").set({ source: "admin" }).where("address", "=", a).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(
      db.deleteFrom("consent_ledger").where("address", "=", a).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(sql`truncate consent_ledger`.execute(db)).rejects.toThrow(/append-only/);
    expect(await ledgerFor("email", a)).toHaveLength(1);
  });

  it("writes ledger and state together: a failure in the middle leaves neither", async () => {
    const a = email();
    const b = email();
    // The second change names an unknown topic: the whole batch must roll back.
    await expect(
      applyConsentChanges(db, [
        { channel: "email", address: a, action: "unsubscribe", source: "preference_page" },
        {
          channel: "email",
          address: b,
          action: "topic_opt_out",
          topic: "does-not-exist",
          source: "preference_page",
        },
      ]),
    ).rejects.toMatchObject({ code: "unknown_topic" });
    expect(await ledgerFor("email", a)).toHaveLength(0);
    expect((await marketing("email", a)).allowed).toBe(true);

    // A failure after the ledger insert (inside the caller's transaction) rolls back both.
    await expect(
      db.transaction().execute(async (trx) => {
        await applyConsentChange(trx, {
          channel: "email",
          address: a,
          action: "unsubscribe",
          source: "admin",
        });
        expect(
          await trx.selectFrom("consent_ledger").select("id").where("address", "=", a).execute(),
        ).toHaveLength(1);
        throw new Error("boom after the write");
      }),
    ).rejects.toThrow("boom after the write");
    expect(await ledgerFor("email", a)).toHaveLength(0);
    const state = await db
      .selectFrom("channel_consent")
      .selectAll()
      .where("address_hash", "=", addressKey(a))
      .execute();
    expect(state).toHaveLength(0);
  });

  it("rejects invalid addresses with the reason, writing nothing", async () => {
    await expect(
      applyConsentChange(db, {
        channel: "email",
        address: "not-an-email",
        action: "unsubscribe",
        source: "api",
      }),
    ).rejects.toMatchObject({
      code: "invalid_address",
      details: { reason: "invalid_email" },
    });
    await expect(
      applyConsentChange(db, {
        channel: "sms",
        address: "12",
        action: "unsubscribe",
        source: "api",
      }),
    ).rejects.toMatchObject({
      code: "invalid_address",
      details: { reason: "invalid_phone" },
    });
  });

  it("records opt-outs of addresses with RFC 5322 characters beyond zod's default (a&b@, {ops}@)", async () => {
    for (const [given, stored] of [
      ["Tom&Jerry@Example.com", "tom&jerry@example.com"],
      ["{ops}@example.com", "{ops}@example.com"],
    ] as const) {
      const res = await applyConsentChange(db, {
        channel: "email",
        address: given,
        action: "unsubscribe",
        source: "api",
      });
      expect(res.changed).toBe(true);
      expect((await marketing("email", stored)).reason).toBe("unsubscribed");
      expect(await ledgerFor("email", stored)).toHaveLength(1);
    }
  });
});

describe("send decision order", () => {
  it("follows the send decision order (docs/consent.md): transactional, unsubscribed, pending, paused, topic opt-out, not opted in", async () => {
    const unsub = email();
    const pending = email();
    const paused = email();
    const topicOut = email();
    const fresh = email();
    const optedIn = email();
    const pausedAndTopicOut = email();
    await applyConsentChanges(db, [
      {
        channel: "email",
        address: unsub,
        action: "pause",
        pausedUntil: new Date(Date.now() + 86400_000),
        source: "preference_page",
      },
      {
        channel: "email",
        address: unsub,
        action: "topic_opt_out",
        topic: "newsletter",
        source: "preference_page",
      },
      { channel: "email", address: unsub, action: "unsubscribe", source: "preference_page" },
      { channel: "email", address: pending, action: "signup_pending", source: "api" },
      {
        channel: "email",
        address: paused,
        action: "pause",
        pausedUntil: new Date(Date.now() + 86400_000),
        source: "preference_page",
      },
      {
        channel: "email",
        address: topicOut,
        action: "topic_opt_out",
        topic: "newsletter",
        source: "preference_page",
      },
      {
        channel: "email",
        address: optedIn,
        action: "topic_opt_in",
        topic: "promotions",
        source: "preference_page",
      },
      {
        channel: "email",
        address: pausedAndTopicOut,
        action: "topic_opt_out",
        topic: "newsletter",
        source: "preference_page",
      },
      {
        channel: "email",
        address: pausedAndTopicOut,
        action: "pause",
        pausedUntil: new Date(Date.now() + 86400_000),
        source: "preference_page",
      },
    ]);
    const all = [
      unsub,
      pending,
      paused,
      topicOut,
      fresh,
      optedIn,
      pausedAndTopicOut,
      "broken@",
      unsub,
    ];
    const newsletter = await decideSendMany(db, {
      channel: "email",
      topic: "newsletter",
      category: "marketing",
      addresses: all,
    });
    expect(newsletter.map((d) => d.reason ?? "allowed")).toEqual([
      "unsubscribed",
      "pending_confirmation",
      "paused",
      "topic_unsubscribed",
      "allowed",
      "allowed",
      "paused",
      "invalid_address",
      "unsubscribed",
    ]);
    expect(newsletter.map((d) => d.address)).toEqual(all);
    const promotions = await decideSendMany(db, {
      channel: "email",
      topic: "promotions",
      category: "marketing",
      addresses: [fresh, optedIn],
    });
    expect(promotions.map((d) => d.reason ?? "allowed")).toEqual(["not_opted_in", "allowed"]);
    const transactional = await decideSendMany(db, {
      channel: "email",
      topic: "newsletter",
      category: "transactional",
      addresses: all,
    });
    expect(transactional.map((d) => d.allowed)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      true,
    ]);
  });

  it("answers a check of 10,000 recipients (looked up in several chunks) in request order", async () => {
    const unsub = email();
    const topicOut = email();
    const paused = email();
    await applyConsentChanges(db, [
      { channel: "email", address: unsub, action: "unsubscribe", source: "link" },
      {
        channel: "email",
        address: topicOut,
        action: "topic_opt_out",
        topic: "newsletter",
        source: "preference_page",
      },
      {
        channel: "email",
        address: paused,
        action: "pause",
        pausedUntil: new Date(Date.now() + 86400_000),
        source: "preference_page",
      },
    ]);
    // Known addresses and invalid ones spread over the whole list, repeated, in mixed case.
    const addresses = Array.from({ length: 10_000 }, (_, i) => {
      if (i % 1_000 === 17) return unsub.toUpperCase();
      if (i % 1_000 === 500) return topicOut;
      if (i % 1_000 === 999) return ` ${paused} `;
      if (i % 1_000 === 3) return `broken${i}@`;
      return `bulk-check-${i}@example.com`;
    });
    const expected = addresses.map((_, i) =>
      i % 1_000 === 17
        ? "unsubscribed"
        : i % 1_000 === 500
          ? "topic_unsubscribed"
          : i % 1_000 === 999
            ? "paused"
            : i % 1_000 === 3
              ? "invalid_address"
              : "allowed",
    );
    const decisions = await decideSendMany(db, {
      channel: "email",
      topic: "newsletter",
      category: "marketing",
      addresses,
    });
    expect(decisions.map((d) => d.address)).toEqual(addresses);
    expect(decisions.map((d) => d.reason ?? "allowed")).toEqual(expected);
    const plain = await decideSendMany(db, { channel: "email", category: "marketing", addresses });
    expect(plain.map((d) => d.reason ?? "allowed")).toEqual(
      expected.map((r) => (r === "topic_unsubscribed" ? "allowed" : r)),
    );
  });

  it("answers every position at the chunk boundaries, for duplicates across chunks and for a chunk of invalid addresses only", async () => {
    const unsub = email();
    await applyConsentChanges(db, [
      { channel: "email", address: unsub, action: "unsubscribe", source: "link" },
    ]);
    const check = async (addresses: string[]) =>
      (await decideSendMany(db, { channel: "email", category: "marketing", addresses })).map(
        (d) => d.reason ?? "allowed",
      );
    // Each size puts the unsubscribed address (in mixed case) first, last, and on both sides of
    // every chunk boundary; everything else is never seen.
    for (const size of [1, CHECK_CHUNK - 1, CHECK_CHUNK, CHECK_CHUNK + 1, 2 * CHECK_CHUNK + 1]) {
      const marked = new Set([0, size - 1]);
      for (let b = CHECK_CHUNK; b < size; b += CHECK_CHUNK) marked.add(b - 1).add(b);
      const addresses = Array.from({ length: size }, (_, i) =>
        marked.has(i)
          ? i % 2 === 0
            ? unsub
            : unsub.toUpperCase()
          : `boundary-${size}-${i}@example.com`,
      );
      expect(await check(addresses)).toEqual(
        addresses.map((_, i) => (marked.has(i) ? "unsubscribed" : "allowed")),
      );
    }
    // The second chunk holds only invalid addresses (no lookup statement of its own); the
    // chunks around it still answer, the duplicate in the third one too.
    const addresses = Array.from({ length: 3 * CHECK_CHUNK }, (_, i) =>
      i >= CHECK_CHUNK && i < 2 * CHECK_CHUNK
        ? `invalid-${i}@`
        : i === 5 || i === 2 * CHECK_CHUNK + 7
          ? unsub
          : `gap-${i}@example.com`,
    );
    expect(await check(addresses)).toEqual(
      addresses.map((_, i) =>
        i >= CHECK_CHUNK && i < 2 * CHECK_CHUNK
          ? "invalid_address"
          : i === 5 || i === 2 * CHECK_CHUNK + 7
            ? "unsubscribed"
            : "allowed",
      ),
    );
  });
});

describe("send check internals (docs/decisions/0116)", () => {
  it("sends each chunk's lookup before hashing the next chunk, and the tables statement first", async () => {
    // A db whose connections note each statement when it is handed to the database.
    const events: string[] = [];
    const recordingDb = recordingStatements(db, (query) =>
      events.push(query.sql.includes("string_agg") ? "lookup" : "statement"),
    );
    const list = Array.from({ length: 2 * CHECK_CHUNK + 1 }, (_, i) => `overlap-${i}@example.com`);
    const watched = ["0", String(CHECK_CHUNK), String(2 * CHECK_CHUNK)];
    const firsts = new Set(watched);
    // Notes the first read of the first address of each chunk.
    const addresses = new Proxy(list, {
      get(target, key, receiver) {
        if (typeof key === "string" && firsts.delete(key)) events.push(`read ${key}`);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const check = () =>
      decideSendMany(recordingDb, { channel: "email", category: "marketing", addresses });
    // A first check opens the pool's connections; the second one is the one observed.
    await check();
    events.length = 0;
    for (const key of watched) firsts.add(key);
    const decisions = await check();
    expect(decisions.every((d) => d.allowed)).toBe(true);
    expect(events).toEqual([
      "statement",
      "read 0",
      "lookup",
      `read ${CHECK_CHUNK}`,
      "lookup",
      `read ${2 * CHECK_CHUNK}`,
      "lookup",
    ]);
  });

  it("probes channel_consent through its hash index (decision 0118), never a scan of the table", async () => {
    // The lookup statement as the check sends it, with its parameters.
    const lookups: CompiledQuery[] = [];
    const recordingDb = recordingStatements(db, (query) => {
      if (query.sql.includes("string_agg")) lookups.push(query);
    });
    const unsub = email();
    await applyConsentChanges(db, [
      { channel: "email", address: unsub, action: "unsubscribe", source: "link" },
    ]);
    const decisions = await decideSendMany(recordingDb, {
      channel: "email",
      category: "marketing",
      addresses: [unsub, email()],
    });
    expect(decisions.map((d) => d.allowed)).toEqual([false, true]);
    expect(lookups).toHaveLength(1);
    // This test's table is small enough for a sequential scan to cost less; with scans off, the
    // probe's expression must still find its index (a rewrite that no longer matches it would
    // fall back to the btree key or to a scan, as on a large table).
    const plan = await inTransaction(db, async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      const { rows } = await trx.executeQuery(
        CompiledQuery.raw(`explain ${lookups[0]!.sql}`, [...lookups[0]!.parameters]),
      );
      return rows.map((r) => Object.values(r as Record<string, string>)[0]).join("\n");
    });
    expect(plan).toMatch(/Index Scan using channel_consent_probe_idx on channel_consent/);
    expect(plan).not.toMatch(/Seq Scan on channel_consent|channel_consent_pkey/);
  });

  it("records a send for each allowed position across chunks, with invalid addresses between", async () => {
    const unsub = email();
    await applyConsentChanges(db, [
      { channel: "email", address: unsub, action: "unsubscribe", source: "link" },
    ]);
    const campaign = `chunks-${n}`;
    const addresses = Array.from({ length: 2 * CHECK_CHUNK + 1 }, (_, i) =>
      i % 7 === 3
        ? `not-an-address-${i}@`
        : i % 500 === 1
          ? unsub
          : i % 1_000 === 2
            ? `Record-${i % 3}@Example.com`
            : `record-${i}@example.com`,
    );
    const decisions = await decideSendMany(db, {
      channel: "email",
      category: "marketing",
      addresses,
      campaign,
      record: true,
    });
    const allowed = addresses.filter((_, i) => decisions[i]!.allowed);
    expect(allowed.length).toBe(
      addresses.filter((a) => !a.startsWith("not-an-address") && a !== unsub).length,
    );
    const { rows } = await sql<{ address_hash: string }>`
      select address_hash from send_log where campaign = ${campaign}`.execute(db);
    expect(new Set(rows.map((r) => r.address_hash))).toEqual(
      new Set(allowed.map((a) => addressKey(a.toLowerCase()))),
    );
  });

  it("reads a lookup's one-text answer by position, and refuses what it does not know", () => {
    const hashes = ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10"];
    const out = new Map<string, SendState>();
    readSendStates("1u0-00,2s1i00,3p0o00,10--i11,4-0-10,5s0-01", hashes, out);
    expect(Object.fromEntries(out)).toEqual({
      h1: {
        status: "unsubscribed",
        paused: false,
        topic: null,
        undeliverable: false,
        capped: false,
      },
      h2: {
        status: "subscribed",
        paused: true,
        topic: "opted_in",
        undeliverable: false,
        capped: false,
      },
      h3: {
        status: "pending",
        paused: false,
        topic: "opted_out",
        undeliverable: false,
        capped: false,
      },
      h10: { status: null, paused: false, topic: "opted_in", undeliverable: true, capped: true },
      h4: { status: null, paused: false, topic: null, undeliverable: true, capped: false },
      h5: { status: "subscribed", paused: false, topic: null, undeliverable: false, capped: true },
    });
    readSendStates(null, hashes, out);
    readSendStates("", hashes, out);
    expect(out.size).toBe(6);
    // A status the reader does not know, a position outside the chunk, a short entry.
    for (const bad of ["1?0-00", "1u0?00", "11u0-00", "0u0-00", "u0-00", "1u0-0"]) {
      expect(() => readSendStates(bad, hashes, new Map())).toThrow(/unreadable/);
    }
  });
});

describe("concurrency", () => {
  it("200 concurrent changes on one address end with the state equal to the ledger's last word", async () => {
    const a = email();
    const actions = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0
        ? ({ action: "unsubscribe", source: "one_click" } as const)
        : i % 3 === 1
          ? ({ action: "subscribe", source: "double_opt_in" } as const)
          : ({ action: "topic_opt_out", topic: "newsletter", source: "preference_page" } as const),
    );
    const results = await Promise.allSettled(
      actions.map((c) => applyConsentChange(db, { channel: "email", address: a, ...c })),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const rows = await ledgerFor("email", a);
    const lastChannelEvent = [...rows]
      .reverse()
      .find((r) => r.action === "unsubscribe" || r.action === "subscribe")!;
    const state = await db
      .selectFrom("channel_consent")
      .selectAll()
      .where("address_hash", "=", addressKey(a))
      .executeTakeFirstOrThrow();
    expect(state.status).toBe(
      lastChannelEvent.action === "unsubscribe" ? "unsubscribed" : "subscribed",
    );
    expect(state.last_ledger_id).toBe(rows.at(-1)!.id);
    // Each change either wrote one row or was an idempotent no-op: never a duplicate transition.
    const channelEvents = rows.filter((r) => r.action !== "topic_opt_out").map((r) => r.action);
    for (let i = 1; i < channelEvents.length; i++)
      expect(channelEvents[i]).not.toBe(channelEvents[i - 1]);
    expect(rows.filter((r) => r.action === "topic_opt_out")).toHaveLength(1);
  });
});
