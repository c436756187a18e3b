import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { suppressAddresses } from "~/api/suppressions.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { addressKey, applyConsentChanges } from "~/consent/consent.server";
import { ledgerTimeline } from "~/contacts/contacts.server";
import { changeSuppression } from "~/contacts/suppressions.server";
import type { Db } from "~/db/db.server";
import { suppressionCsvStream, unicodeAddress } from "~/exports/suppressions.server";
import { parseReportFilter } from "~/reports/filters";
import { getCampaignReport } from "~/reports/campaigns.server";
import { getDashboard } from "~/reports/queries.server";
import { DEFAULT_RATE_RULES } from "~/reports/rates";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Issue 15.6 and 15.7: operators' notes are notes (details.note, the export's `note` column), never
 * the recipient's own words (reason_text, "In their own words" in reports); reports count people,
 * not channel rows; the admin export opens right in Excel (BOM, `;`, Unicode domains plus their
 * ASCII form).
 */

let t: TestDatabase;
let db: Db;
let contactId: string;
let agentId: string;
const AGENT_NOTE = "Caller asked on the phone (ticket 81)";
const API_NOTE = "CRM sync: customer closed the account";
const WORDS = "Příliš často, díky";

/** The bytes as text, a BOM kept (Response.text() would drop it). */
const csvOf = async (stream: ReadableStream<Uint8Array>) =>
  new TextDecoder("utf-8", { ignoreBOM: true }).decode(await new Response(stream).arrayBuffer());

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  const agent = await db
    .insertInto("admin_users")
    .values({ email: "notes-agent@x.test", name: "Agent", role: "agent", password_hash: "x" })
    .returning("id")
    .executeTakeFirstOrThrow();
  agentId = agent.id;
  const contact = await db
    .insertInto("contacts")
    .values({ external_id: "p-1", email: "jan@müller.de", phone: "+420777111222" })
    .returning("id")
    .executeTakeFirstOrThrow();
  contactId = contact.id;
  // One person leaves every channel at once on the preference page, in their own words.
  await applyConsentChanges(
    db,
    (["email", "sms", "whatsapp"] as const).map((channel) => ({
      channel,
      address: channel === "email" ? "jan@müller.de" : "+420777111222",
      action: "unsubscribe" as const,
      source: "preference_page" as const,
      contactId,
      reasonCode: "too_frequent",
      reasonText: WORDS,
    })),
  );
  // An agent suppresses another address with a note.
  await changeSuppression(db, {
    intent: "suppress",
    targets: [{ channel: "email", address: "caller@x.test" }],
    note: AGENT_NOTE,
    by: { actor: { type: "admin_user", id: agentId, label: "notes-agent@x.test" } },
  });
  // A sending system suppresses one through the API with a note.
  const key = await db
    .insertInto("api_keys")
    .values({
      name: "CRM",
      prefix: "abcdefabcdef",
      key_hash: "x".repeat(64),
      scopes: [],
      created_by: null,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await suppressAddresses(db, {
    channel: "email",
    addresses: ["api@x.test"],
    note: API_NOTE,
    actor: { type: "api_key", id: key.id },
    ip: null,
    userAgent: null,
  });
  // An import with its note.
  await bulkUnsubscribe(db, [{ channel: "email", address: "old@x.test" }], {
    source: "import",
    note: "import unsubscribe",
  });
  // A row written before notes moved to details: the agent's note was the reason text.
  await db
    .insertInto("consent_ledger")
    .values({
      channel: "email",
      address: "legacy@x.test",
      address_hash: addressKey("legacy@x.test"),
      action: "unsubscribe",
      source: "admin",
      reason_text: "Old agent note",
      actor_type: "admin_user",
      actor_id: agentId,
    })
    .execute();
  await db
    .insertInto("channel_consent")
    .values({
      channel: "email",
      address: "legacy@x.test",
      address_hash: addressKey("legacy@x.test"),
      status: "unsubscribed",
    })
    .execute();
});

afterAll(async () => {
  await t?.close();
});

describe("reports count people and quote only recipients", () => {
  it("one person leaving three channels is one person, with one per channel", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const { filter } = parseReportFilter(new URLSearchParams({ from: today, to: today }));
    const d = await getDashboard(db, filter, DEFAULT_RATE_RULES);
    // The person (3 channels), the agent's (2) and the API's suppressions; the import is not
    // counted.
    expect(d.totals).toMatchObject({ leaving: 4, changes: 6, unsubscribes: 6, notCounted: 1 });
    expect(d.byChannel.map((r) => [r.channel, r.people, r.total])).toEqual([
      ["email", 4, 4],
      ["sms", 1, 1],
      ["whatsapp", 1, 1],
    ]);
    expect(d.overTime).toEqual([{ bucket: today, email: 4, sms: 1, whatsapp: 1, total: 4 }]);
    expect(d.byReason.find((r) => r.code === "too_frequent")?.count).toBe(1);
    // "In their own words": the person's words, once per change; no operator's note.
    const texts = d.freeText.map((r) => r.text);
    expect(new Set(texts)).toEqual(new Set([WORDS]));
    expect(texts).not.toContain(AGENT_NOTE);
    expect(texts).not.toContain(API_NOTE);
  });

  it("a campaign's page quotes its recipients, not an agent's note on the same campaign", async () => {
    await db
      .insertInto("campaigns")
      .values({ key: "notes-campaign", name: "Notes", channel: "email", sent_count: 10 })
      .execute();
    const row = (address: string, source: "preference_page" | "admin", text: string) => ({
      channel: "email" as const,
      address,
      address_hash: addressKey(address),
      action: "unsubscribe" as const,
      source,
      campaign: "notes-campaign",
      reason_text: text,
      ...(source === "admin" ? { actor_type: "admin_user" as const, actor_id: agentId } : {}),
    });
    await db
      .insertInto("consent_ledger")
      .values([
        row("campaign-reader@x.test", "preference_page", "Campaign words"),
        row("campaign-caller@x.test", "admin", "Campaign agent note"),
      ])
      .execute();
    const report = await getCampaignReport(db, "notes-campaign", DEFAULT_RATE_RULES);
    expect(report!.freeText.map((r) => r.text)).toEqual(["Campaign words"]);
  });
});

describe("notes stay notes", () => {
  it("the agent's and the API's notes are in details, not in reason_text", async () => {
    const rows = await db
      .selectFrom("consent_ledger")
      .select(["address", "source", "reason_text", "details"])
      .where("address", "in", ["caller@x.test", "api@x.test", "old@x.test"])
      .orderBy("id")
      .execute();
    expect(
      rows.map((r) => [r.address, r.reason_text, (r.details as { note?: string }).note]),
    ).toEqual([
      ["caller@x.test", null, AGENT_NOTE],
      ["api@x.test", null, API_NOTE],
      ["old@x.test", null, "import unsubscribe"],
    ]);
  });

  it("the contact's timeline shows the note as a note, old rows included", async () => {
    const { entries } = await ledgerTimeline(db, {
      targets: [
        { channel: "email", address: "caller@x.test" },
        { channel: "email", address: "old@x.test" },
        { channel: "email", address: "legacy@x.test" },
        { channel: "email", address: "jan@xn--mller-kva.de" },
      ],
    });
    const by = Object.fromEntries(entries.map((e) => [e.address, [e.reasonText, e.note]]));
    expect(by).toEqual({
      "caller@x.test": [null, AGENT_NOTE],
      "old@x.test": [null, "import unsubscribe"],
      "legacy@x.test": [null, "Old agent note"],
      "jan@xn--mller-kva.de": [WORDS, null],
    });
  });
});

describe("the export for Excel", () => {
  it("has a BOM, the chosen separator, Unicode domains and their ASCII form, notes in `note`", async () => {
    const text = await csvOf(suppressionCsvStream(db, {}, { forPeople: { delimiter: ";" } }));
    expect(
      text.startsWith(
        "\uFEFFaddress;channel;date;source;reason;reason_text;campaign;note;address_ascii\r\n",
      ),
    ).toBe(true);
    const rows = parse(text.slice(1), { delimiter: ";", columns: true }) as Record<
      string,
      string
    >[];
    const by = Object.fromEntries(rows.map((r) => [`${r.channel} ${r.address}`, r]));
    expect(by["email jan@müller.de"]).toMatchObject({
      address_ascii: "jan@xn--mller-kva.de",
      source: "preference_page",
      reason: "too_frequent",
      reason_text: WORDS,
      note: "",
    });
    expect(by["sms +420777111222"]).toMatchObject({ address_ascii: "+420777111222" });
    expect(by["email caller@x.test"]).toMatchObject({ reason_text: "", note: AGENT_NOTE });
    expect(by["email api@x.test"]).toMatchObject({ reason_text: "", note: API_NOTE });
    expect(by["email old@x.test"]).toMatchObject({ reason_text: "", note: "import unsubscribe" });
    expect(by["email legacy@x.test"]).toMatchObject({ reason_text: "", note: "Old agent note" });
    // A cell with the separator in it is quoted.
    expect(text).toContain(`;"${WORDS}";`);
  });

  it("the comma form, and machines get the stored form without a BOM", async () => {
    const comma = await csvOf(suppressionCsvStream(db, {}, { forPeople: { delimiter: "," } }));
    expect(comma.startsWith("\uFEFFaddress,channel,")).toBe(true);
    const api = await csvOf(suppressionCsvStream(db, {}));
    expect(api.startsWith("address,channel,date,source,reason,reason_text,campaign,note\r\n")).toBe(
      true,
    );
    expect(api).toContain("jan@xn--mller-kva.de,email,");
    expect(api).toContain(`api@x.test,email,`);
    expect(api).not.toContain("address_ascii");
  });

  it("unicodeAddress leaves everything but punycode domains alone", () => {
    expect(unicodeAddress("a@xn--mller-kva.de")).toBe("a@müller.de");
    expect(unicodeAddress("a@example.com")).toBe("a@example.com");
    expect(unicodeAddress("+420777111222")).toBe("+420777111222");
  });
});
