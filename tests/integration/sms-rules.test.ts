import pino from "pino";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "~/admin/users.server";
import { decideSend } from "~/consent/consent.server";
import { eraseContact } from "~/consent/erasure.server";
import { setDatabase, type Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { signLinkToken } from "~/links/tokens.server";
import { countOutbox, listOutbox } from "~/outbox/outbox.server";
import type { DeliveryResult, OutboxDelivery } from "~/outbox/types";
import { runOutboxOnce } from "~/outbox/worker.server";
import * as prefsApi from "~/routes/api.v1.contacts.$externalId.preferences";
import * as subscriptionsApi from "~/routes/api.v1.subscriptions";
import * as preferencePage from "~/routes/p.$token";
import { saveBranding } from "~/settings/settings.server";
import {
  addBusinessDays,
  inboundTimeline,
  listReviewQueue,
  resolveReview,
} from "~/sms/review.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call, CONTEXT, json, newKey } from "./api.helpers";
import {
  ledger,
  metaRequest,
  metaText,
  plivoRequest,
  replies,
  send,
  telnyxRequest,
  twilioRequest,
  useSmsEnv,
  vonageRequest,
} from "./sms.helpers";

/**
 * The rules an SMS/WhatsApp opt-out must follow, end to end through the real webhook routes,
 * the outbox worker, the preference page and the API: one confirmation per opt-out and never
 * later than 5 minutes; nothing texted to an opted-out number (re-subscribing asks for START);
 * no second reply where the provider answers keywords itself; HELP replies carriers accept;
 * the agent review queue; erasure of what people wrote.
 */

let t: TestDatabase;
let db: Db;
let restoreEnv: () => void;
let agent: { id: string; email: string };

beforeAll(async () => {
  restoreEnv = useSmsEnv({ SMS_KEYWORD_NUMBER: "+14155550100" });
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await saveBranding(db, {
    organizationName: "Acme Shop",
    logoUrl: "",
    accentColor: "#2563eb",
    privacyPolicyUrl: "",
    supportEmail: "help@acme.example",
    supportPhone: "+1 800 555 0100",
  });
  const { user } = await createUser(
    db,
    {
      email: "agent@acme.example",
      role: "agent",
      name: "Agnes",
      password: "correct horse battery",
    },
    { actor: { type: "system" } },
  );
  agent = { id: user.id, email: user.email };
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
  restoreEnv();
});

let n = 0;
const phone = () => `+4860130${String(++n).padStart(4, "0")}`;
const status = async (channel: "sms" | "whatsapp", p: string) =>
  (await decideSend(db, { channel, address: p, category: "marketing" })).reason ?? "allowed";
const by = () => ({ actor: { type: "admin_user" as const, id: agent.id, label: agent.email } });

/** A transport that records what it would send. */
function recorder() {
  const sent: OutboxDelivery[] = [];
  const transport = async (d: OutboxDelivery): Promise<DeliveryResult> => {
    sent.push(d);
    return { ok: true, detail: "recorded" };
  };
  return { sent, transport };
}
const ctx = () => ({ db, env: getEnv(), logger: pino({ level: "silent" }) });

async function inboundOf(p: string) {
  return db
    .selectFrom("inbound_messages")
    .selectAll()
    .where("address", "=", p)
    .orderBy("id")
    .execute();
}

describe("one confirmation per opt-out, never later than 5 minutes", () => {
  it("a STOP queues exactly one confirmation, which the worker delivers while in time", async () => {
    const p = phone();
    await send(plivoRequest(p, "STOP"));
    await send(plivoRequest(p, "Please stop texting me")); // already unsubscribed: no second one
    await send(plivoRequest(p, "STOP"));
    const queued = await replies(db, p);
    expect(queued).toHaveLength(1);
    expect(String(queued[0]!.payload.body)).toBe(
      "Acme Shop: you are unsubscribed and will get no more messages from us. Reply START to subscribe again.",
    );
    expect(String(queued[0]!.payload.body)).not.toMatch(/https?:|%|offer|sale/i);
    const deadline = queued[0]!.deliver_by!.getTime() - queued[0]!.created_at.getTime();
    expect(deadline).toBeGreaterThan(4 * 60_000);
    expect(deadline).toBeLessThanOrEqual(5 * 60_000 + 1000);

    const { sent, transport } = recorder();
    await runOutboxOnce(ctx(), { transports: { sms: transport } });
    expect(sent.filter((d) => d.recipient === p)).toHaveLength(1);
    const row = await db
      .selectFrom("outbox")
      .selectAll()
      .where("id", "=", queued[0]!.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("sent");
  });

  it("a confirmation that would be delivered after the 5 minutes is dropped, visibly", async () => {
    const p = phone();
    await send(plivoRequest(p, "STOP"));
    const [q] = await replies(db, p);
    // The worker was down or the provider failing: the 5 minutes have passed.
    await sql`update outbox set deliver_by = now() - interval '1 second' where id = ${q!.id}`.execute(
      db,
    );
    const { sent, transport } = recorder();
    await runOutboxOnce(ctx(), { transports: { sms: transport } });
    expect(sent.filter((d) => d.recipient === p)).toHaveLength(0);
    const row = await db
      .selectFrom("outbox")
      .selectAll()
      .where("id", "=", q!.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("expired");
    expect(row.last_error).toMatch(/deliver-by/);
    expect((await countOutbox(db)).expired).toBeGreaterThanOrEqual(1);
    expect((await listOutbox(db, { status: "expired" })).map((m) => m.id)).toContain(q!.id);
  });

  it("a failed delivery is retried only while in time", async () => {
    const p = phone();
    await send(plivoRequest(p, "STOP"));
    const [q] = await replies(db, p);
    let calls = 0;
    const failing = async (d: OutboxDelivery): Promise<DeliveryResult> => {
      if (d.recipient === p) calls += 1;
      return { ok: false, error: "provider unavailable" };
    };
    await runOutboxOnce(ctx(), { transports: { sms: failing } });
    expect(calls).toBe(1);
    // The retry falls due after the deadline.
    await sql`update outbox set next_attempt_at = now(), deliver_by = now() - interval '1 second'
      where id = ${q!.id}`.execute(db);
    await runOutboxOnce(ctx(), { transports: { sms: failing } });
    expect(calls).toBe(1);
    expect(
      (
        await db
          .selectFrom("outbox")
          .select("status")
          .where("id", "=", q!.id)
          .executeTakeFirstOrThrow()
      ).status,
    ).toBe("expired");
  });

  it("a STOP the provider delivers late (its timestamp > 5 minutes ago) gets no confirmation sent", async () => {
    const p = phone();
    const late = new Date(Date.now() - 6 * 60_000).toISOString();
    await send(await telnyxRequest(p, "STOP", { received_at: late }));
    expect(await status("sms", p)).toBe("unsubscribed");
    const [q] = await replies(db, p);
    expect(q!.status).toBe("expired");
    const { sent, transport } = recorder();
    await runOutboxOnce(ctx(), { transports: { sms: transport } });
    expect(sent.filter((d) => d.recipient === p)).toHaveLength(0);
  });
});

describe("never re-subscribe from a sentence", () => {
  it("'Yes, see you at 5' after STOP keeps the number unsubscribed and is ignored", async () => {
    const p = phone();
    await send(plivoRequest(p, "STOP"));
    await send(plivoRequest(p, "Yes, see you at 5"));
    expect(await status("sms", p)).toBe("unsubscribed");
    expect((await inboundOf(p)).map((m) => m.decision)).toEqual(["applied", "ignored"]);
    await send(plivoRequest(p, "YES"));
    expect(await status("sms", p)).toBe("allowed");
    expect((await ledger(db, "sms", p)).map((r) => r.action)).toEqual(["unsubscribe", "subscribe"]);
  });
});

describe("the provider answers keywords itself", () => {
  it("Twilio (on by default): no second reply to STOP, START or HELP; phrases it does not know still get Heed's", async () => {
    const restore = useSmsEnv({
      PROVIDER_ANSWERS_KEYWORDS: undefined,
      SMS_KEYWORD_NUMBER: "+14155550100",
    });
    try {
      expect(getEnv().PROVIDER_ANSWERS_KEYWORDS).toEqual(["twilio"]);
      const a = phone();
      await send(twilioRequest(a, "STOP"));
      await send(twilioRequest(a, "HELP"));
      await send(twilioRequest(a, "START"));
      expect(await status("sms", a)).toBe("allowed");
      expect(await replies(db, a)).toHaveLength(0);
      expect((await inboundOf(a)).map((m) => m.details.providerAnswered)).toEqual([
        true,
        true,
        true,
      ]);
      // Advanced Opt-Out custom keyword: Twilio classified and answered it.
      const b = phone();
      await send(twilioRequest(b, "ARRET", { OptOutType: "STOP" }));
      expect(await status("sms", b)).toBe("unsubscribed");
      expect(await replies(db, b)).toHaveLength(0);
      // Twilio does not answer a sentence: Heed's confirmation is the only one.
      const c = phone();
      await send(twilioRequest(c, "Please stop texting me"));
      expect(await status("sms", c)).toBe("unsubscribed");
      expect(await replies(db, c)).toHaveLength(1);
      // Another provider, not in the list, is answered by Heed.
      const d = phone();
      await send(plivoRequest(d, "STOP"));
      expect(await replies(db, d)).toHaveLength(1);
    } finally {
      restore();
    }
  });

  it("turned off (PROVIDER_ANSWERS_KEYWORDS=none): Heed answers STOP, START and HELP itself", async () => {
    const a = phone();
    await send(twilioRequest(a, "STOP"));
    await send(twilioRequest(a, "START"));
    await send(twilioRequest(a, "HELP"));
    expect((await replies(db, a)).map((r) => r.payload.template)).toEqual([
      "sms.reply.stop",
      "sms.reply.start",
      "sms.reply.help",
    ]);
  });
});

describe("HELP replies carriers accept", () => {
  it("name the organization, the support contact, how to opt out and the rates, in the contact's language", async () => {
    const en = phone();
    await send(twilioRequest(en, "help"));
    expect(String((await replies(db, en))[0]!.payload.body)).toBe(
      "Acme Shop: for help contact +1 800 555 0100, help@acme.example. Reply STOP to unsubscribe or START to subscribe again. Msg & data rates may apply.",
    );
    const pl = phone();
    await db
      .insertInto("contacts")
      .values({ external_id: `help-${pl}`, phone: pl, locale: "pl" })
      .execute();
    await send(twilioRequest(pl, "HELP"));
    const body = String((await replies(db, pl))[0]!.payload.body);
    expect(body).toContain("Acme Shop");
    expect(body).toContain("help@acme.example");
    expect(body).toContain("STOP");
    expect(body).toContain("Mogą obowiązywać opłaty");
    // A HELP in Spanish from an unknown number is answered in Spanish.
    const es = phone();
    await send(twilioRequest(es, "AYUDA"));
    expect(String((await replies(db, es))[0]!.payload.body)).toContain("Pueden aplicarse tarifas");
  });
});

describe("after an SMS opt-out nothing else is texted until START", () => {
  it("re-subscribing through the API or the preference page asks for START and texts nothing; START confirms", async () => {
    const p = phone();
    const externalId = `resub-${p}`;
    const contact = await db
      .insertInto("contacts")
      .values({ external_id: externalId, phone: p, email: `resub${n}@example.com`, locale: "en" })
      .returning("id")
      .executeTakeFirstOrThrow();
    await send(twilioRequest(p, "STOP"));
    expect(await replies(db, p)).toHaveLength(1); // the confirmation of the STOP

    const key = await newKey(db, ["contacts"]);
    const patch = await call(prefsApi, {
      method: "PATCH",
      path: `/api/v1/contacts/${externalId}/preferences`,
      params: { externalId },
      key: key.key,
      body: { channels: { sms: { status: "subscribed" } } },
    });
    expect(patch.status).toBe(200);
    const body = await json<{
      confirmations: { channel: string; status: string; keywordNumber: string }[];
    }>(patch);
    expect(body.confirmations).toEqual([
      expect.objectContaining({
        channel: "sms",
        status: "keyword_required",
        keywordNumber: "+14155550100",
      }),
    ]);

    const subKey = await newKey(db, ["contacts", "suppressions", "links"]);
    const sub = await call(subscriptionsApi, {
      method: "POST",
      path: "/api/v1/subscriptions",
      key: subKey.key,
      body: { channel: "sms", address: p },
    });
    expect(sub.status).toBe(202);
    expect(await json(sub)).toMatchObject({
      status: "keyword_required",
      keyword: "START",
      keywordNumber: "+14155550100",
    });

    const token = await signLinkToken({
      contactId: contact.id,
      channel: "sms",
      purpose: "preferences",
    });
    const form = new URLSearchParams({ intent: "save", "choice.sms": "resubscribe" });
    const page = await preferencePage.action({
      request: new Request(`http://localhost/p/${token}`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      }),
      params: { token },
      context: CONTEXT,
    });
    expect(page.status).toBe(200);
    const saved = (await page.json()) as { result: string; lines: string[] };
    expect(saved.lines.join(" ")).toContain("send START to +14155550100");

    // Nothing was texted to the number: still only the STOP's confirmation.
    expect(await replies(db, p)).toHaveLength(1);
    expect(await status("sms", p)).toBe("unsubscribed");

    await send(twilioRequest(p, "START"));
    expect(await status("sms", p)).toBe("allowed");
    const requests = await db
      .selectFrom("double_opt_in_requests")
      .select(["status", "template_version"])
      .where("contact_id", "=", contact.id)
      .execute();
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(
      requests.some((r) => r.status === "confirmed" && r.template_version === "keyword:start"),
    ).toBe(true);
    const [start] = (await inboundOf(p)).slice(-1);
    expect(start!.decision).toBe("applied");
  });
});

describe("the agent review queue", () => {
  it("a message that merely contains a stop word waits for an agent; apply unsubscribes with the agent on record", async () => {
    const p = phone();
    await db
      .insertInto("contacts")
      .values({ external_id: `rev-${p}`, phone: p })
      .execute();
    await send(await vonageRequest(p, "End of the day works for me"));
    expect(await status("sms", p)).toBe("allowed");
    expect(await replies(db, p)).toHaveLength(0);
    const [m] = await inboundOf(p);
    expect(m).toMatchObject({ decision: "review", body: "End of the day works for me" });
    const queue = await listReviewQueue(db);
    const item = queue.items.find((i) => i.id === m!.id)!;
    expect(item).toMatchObject({ address: p, matched: "end", overdue: false });
    expect(item.dueAt.getTime()).toBe(addBusinessDays(m!.received_at, 10).getTime());

    const r = await resolveReview(db, { id: m!.id, action: "apply", by: by() });
    expect(r.status).toBe("applied");
    expect(await status("sms", p)).toBe("unsubscribed");
    const [row] = await ledger(db, "sms", p);
    expect(row).toMatchObject({
      action: "unsubscribe",
      source: "sms_keyword",
      actor_type: "admin_user",
      actor_id: agent.id,
      reason_text: "End of the day works for me",
    });
    // Within the 5 minutes of the message: one confirmation, due in time.
    expect(await replies(db, p)).toHaveLength(1);
    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "sms_review.apply")
      .where("target_id", "=", String(m!.id))
      .execute();
    expect(audit).toHaveLength(1);
    expect((await resolveReview(db, { id: m!.id, action: "dismiss", by: by() })).status).toBe(
      "already_resolved",
    );
    expect((await listReviewQueue(db)).items.some((i) => i.id === m!.id)).toBe(false);

    const timeline = await inboundTimeline(db, { contactId: row!.contact_id!, phone: p });
    expect(timeline[0]).toMatchObject({
      decision: "applied",
      body: "End of the day works for me",
      reviewedBy: agent.email,
      reply: expect.objectContaining({ status: "pending" }),
    });
  });

  it("applying late drops the confirmation (expired); dismissing changes nothing; old items show overdue", async () => {
    const late = phone();
    await send(await vonageRequest(late, "Can I cancel my order?"));
    const [m] = await inboundOf(late);
    await sql`update inbound_messages set received_at = now() - interval '30 days',
      details = details - 'sentAt' where id = ${m!.id}`.execute(db);
    const queue = await listReviewQueue(db);
    expect(queue.items.find((i) => i.id === m!.id)!.overdue).toBe(true);
    expect(queue.overdue).toBeGreaterThanOrEqual(1);
    await resolveReview(db, { id: m!.id, action: "apply", by: by() });
    expect(await status("sms", late)).toBe("unsubscribed");
    const [reply] = await replies(db, late);
    expect(reply!.status).toBe("expired");

    const keep = phone();
    await send(await vonageRequest(keep, "I want to stop by the shop later"));
    const [k] = await inboundOf(keep);
    const before = await sql<{ n: number }>`select count(*)::int as n from consent_ledger`.execute(
      db,
    );
    expect((await resolveReview(db, { id: k!.id, action: "dismiss", by: by() })).status).toBe(
      "dismissed",
    );
    expect(await status("sms", keep)).toBe("allowed");
    const after = await sql<{ n: number }>`select count(*)::int as n from consent_ledger`.execute(
      db,
    );
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    expect((await inboundOf(keep))[0]).toMatchObject({
      decision: "dismissed",
      reviewed_by: agent.id,
    });
  });

  it("counts business days: Friday + 1 is Monday, 10 span two weeks", () => {
    const friday = new Date("2026-11-27T15:00:00Z");
    expect(addBusinessDays(friday, 1).toISOString()).toBe("2026-11-30T15:00:00.000Z");
    expect(addBusinessDays(friday, 10).toISOString()).toBe("2026-12-11T15:00:00.000Z");
    const saturday = new Date("2026-11-28T10:00:00Z");
    expect(addBusinessDays(saturday, 10).toISOString()).toBe("2026-12-11T10:00:00.000Z");
  });
});

describe("erasure", () => {
  it("removes what the person wrote and their number from inbound messages", async () => {
    const p = phone();
    const c = await db
      .insertInto("contacts")
      .values({ external_id: `erase-${p}`, phone: p })
      .returning("id")
      .executeTakeFirstOrThrow();
    await send(metaRequest([metaText(p, "Please stop texting me")]));
    await send(twilioRequest(`whatsapp:${p}`, "End of the day works, Jan Kowalski"));
    expect(await inboundOf(p)).toHaveLength(2);
    await eraseContact(db, c.id, by());
    const rows = await db
      .selectFrom("inbound_messages")
      .selectAll()
      .where("contact_id", "=", c.id)
      .execute();
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.address).toBeNull();
      expect(r.body).toBeNull();
      expect(JSON.stringify(r.details)).not.toContain("Kowalski");
      expect(r.details).toMatchObject({ erased: true });
    }
    expect(await status("whatsapp", p)).toBe("unsubscribed");
  });
});
