/**
 * Asking to subscribe what is already subscribed changes nothing (issue 11.3). A contact the
 * sender created through the API is subscribed without any consent row ("no row means
 * subscribed", docs/consent.md); POST /api/v1/subscriptions and the unsubscribe page's "subscribe
 * again" used to record `signup_pending` for it, which turned it into pending_confirmation.
 */
import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLinks } from "~/api/links.server";
import { addressKey, decideSend } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import * as contactRoute from "~/routes/api.v1.contacts.$externalId";
import * as subscriptionsRoute from "~/routes/api.v1.subscriptions";
import { action as unsubscribeAction } from "~/routes/u.$token";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call, newKey } from "./api.helpers";

let t: TestDatabase;
let db: Db;
let key: string;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  key = (await newKey(db, ["contacts", "links"], "subscribe test")).key;
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

async function apiContact(externalId: string, email: string, phone: string) {
  const res = await call(contactRoute, {
    method: "PUT",
    path: `/api/v1/contacts/${externalId}`,
    params: { externalId },
    key,
    body: { email, phone },
  });
  expect(res.status).toBeLessThan(300);
  return db
    .selectFrom("contacts")
    .selectAll()
    .where("external_id", "=", externalId)
    .executeTakeFirstOrThrow();
}

const subscribe = (channel: Channel, address: string) =>
  call(subscriptionsRoute, { method: "POST", key, body: { channel, address } });

/** Everything Heed recorded for the address: state, ledger, confirmations sent. */
async function recorded(channel: Channel, address: string) {
  const hash = addressKey(address);
  const [state, ledger, requests, mail] = await Promise.all([
    db.selectFrom("channel_consent").selectAll().where("address_hash", "=", hash).execute(),
    db.selectFrom("consent_ledger").select("id").where("address_hash", "=", hash).execute(),
    db.selectFrom("double_opt_in_requests").select("id").where("address_hash", "=", hash).execute(),
    db.selectFrom("outbox").select("id").where("recipient", "=", address).execute(),
  ]);
  const decision = await decideSend(db, { channel, address, category: "marketing" });
  return {
    rows: state.length + ledger.length + requests.length + mail.length,
    allowed: decision.allowed,
  };
}

describe("subscribing an address that is already subscribed", () => {
  it("POST /api/v1/subscriptions for a contact created through the API changes nothing (email and SMS)", async () => {
    const c = await apiContact("sub-api-1", "Already.Here@Example.com", "+48601555001");
    for (const [channel, address] of [
      ["email", "already.here@example.com"],
      ["sms", "+48601555001"],
    ] as const) {
      const res = await subscribe(channel, address);
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ requestId: null, status: "already_subscribed" });
      expect(await recorded(channel, address)).toEqual({ rows: 0, allowed: true });
    }
    expect(c.email).toBe("already.here@example.com");
  });

  it('"subscribe again" on the unsubscribe page of a subscribed address changes nothing', async () => {
    const c = await apiContact("sub-api-2", "still.here@example.com", "+48601555002");
    const links = await createLinks(db, c, { channel: "email" });
    const token = links.unsubscribeUrl.split("/u/")[1]!;
    const request = new Request(`http://localhost/u/${token}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "intent=resubscribe",
    });
    const context = { clientIp: "203.0.113.5", nonce: "", requestId: "t" } as AppLoadContext;
    const res = (await unsubscribeAction({ request, params: { token }, context })) as Response;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: "resubscribe", kind: "already_subscribed" });
    expect(await recorded("email", "still.here@example.com")).toEqual({ rows: 0, allowed: true });
  });

  it("a new address (no contact, no row) still starts as pending until confirmed", async () => {
    const res = await subscribe("email", "brand.new@example.com");
    expect(await res.json()).toMatchObject({ status: "sent" });
    const decision = await decideSend(db, {
      channel: "email",
      address: "brand.new@example.com",
      category: "marketing",
    });
    expect(decision).toMatchObject({ allowed: false, reason: "pending_confirmation" });
  });
});
