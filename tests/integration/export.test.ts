import { parse } from "csv-parse/sync";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { applyConsentChange } from "~/consent/consent.server";
import { eraseContact } from "~/consent/erasure.server";
import type { Db } from "~/db/db.server";
import {
  suppressionCsvChunks,
  suppressionCsvHeaders,
  suppressionCsvStream,
  type SuppressionExportFilter,
} from "~/exports/suppressions.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { waitForDatabaseClock } from "../setup/wait";

let t: TestDatabase;
let db: Db;
let startedAt: Date;
let middle: Date;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto("topics")
    .values({
      key: "news",
      channels: ["email"],
      default_opt_in: true,
      names: "{}",
      descriptions: "{}",
    })
    .execute();
  startedAt = new Date(Date.now() - 1000);
  await applyConsentChange(db, {
    channel: "email",
    address: "Link@Example.com",
    action: "unsubscribe",
    source: "link",
    campaign: "spring-sale",
    reasonCode: "too_frequent",
  });
  await applyConsentChange(db, {
    channel: "email",
    address: "formula@example.com",
    action: "unsubscribe",
    source: "preference_page",
    reasonCode: "other",
    reasonText: '=HYPERLINK("http://evil.example","click"), and "quotes"',
  });
  await applyConsentChange(db, {
    channel: "sms",
    address: "+48601555001",
    action: "unsubscribe",
    source: "sms_keyword",
  });
  // A later topic change must not replace the unsubscribe's date, source and reason.
  await applyConsentChange(db, {
    channel: "email",
    address: "link@example.com",
    action: "topic_opt_out",
    topic: "news",
    source: "preference_page",
  });
  // `middle` falls after every change above and before every change below.
  const { rows } = await sql<{
    last: Date;
  }>`select max(occurred_at) as last from consent_ledger`.execute(db);
  middle = new Date(rows[0]!.last.getTime() + 1);
  await waitForDatabaseClock(db, middle);
  await bulkUnsubscribe(
    db,
    [
      { channel: "email", address: "imported1@example.com", reasonCode: "never_signed_up" },
      { channel: "email", address: "imported2@example.com" },
      { channel: "whatsapp", address: "+48601555002" },
    ],
    {
      source: "import",
      importId: "00000000-0000-4000-8000-00000000000a",
      note: "import unsubscribe",
    },
  );
  // Not suppressed: subscribed, or pending.
  await applyConsentChange(db, {
    channel: "email",
    address: "pending@example.com",
    action: "signup_pending",
    source: "api",
  });
  // Erased: only a hash is left, nothing to export.
  const [c] = await db
    .insertInto("contacts")
    .values({ email: "erased@example.com" })
    .returning("id")
    .execute();
  await applyConsentChange(db, {
    channel: "email",
    address: "erased@example.com",
    action: "unsubscribe",
    source: "link",
    contactId: c!.id,
  });
  await eraseContact(db, c!.id, { actor: { type: "system" } });
});
afterAll(async () => {
  await t?.close();
});

async function exportCsv(filter: SuppressionExportFilter = {}, batchSize = 2) {
  const chunks: string[] = [];
  for await (const chunk of suppressionCsvChunks(db, filter, { batchSize })) chunks.push(chunk);
  const text = chunks.join("");
  return { text, chunks, rows: parse(text, { columns: true }) as Record<string, string>[] };
}

describe("the suppressions export", () => {
  it("lists every suppressed address with its date, source, reasons, campaign and note, page by page", async () => {
    const { text, chunks, rows } = await exportCsv();
    expect(text.split("\r\n")[0]).toBe(
      "address,channel,date,source,reason,reason_text,campaign,note",
    );
    // Header + 6 rows in pages of 2.
    expect(chunks).toHaveLength(4);
    // By channel, then address (keyset over the export index).
    expect(rows.map((r) => `${r.channel}:${r.address}`)).toEqual([
      "email:formula@example.com",
      "email:imported1@example.com",
      "email:imported2@example.com",
      "email:link@example.com",
      "sms:+48601555001",
      "whatsapp:+48601555002",
    ]);
    const link = rows.find((r) => r.address === "link@example.com")!;
    expect(link).toMatchObject({
      source: "link",
      reason: "too_frequent",
      reason_text: "",
      campaign: "spring-sale",
      note: "",
    });
    expect(new Date(link.date!).getTime()).toBeGreaterThanOrEqual(startedAt.getTime());
    expect(link.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(rows[1]).toMatchObject({
      source: "import",
      reason: "never_signed_up",
      note: "import unsubscribe",
    });
    // A formula in free text is defused for spreadsheets; quotes and commas survive CSV quoting.
    expect(rows[0]!.reason_text).toBe(`'=HYPERLINK("http://evil.example","click"), and "quotes"`);
    expect(text).not.toContain("erased@example.com");
    expect(text).not.toContain("pending@example.com");
  });

  it("filters by channel, source and date range", async () => {
    expect((await exportCsv({ channel: "email" })).rows.map((r) => r.address)).toEqual([
      "formula@example.com",
      "imported1@example.com",
      "imported2@example.com",
      "link@example.com",
    ]);
    expect((await exportCsv({ source: "import" })).rows.map((r) => r.address)).toEqual([
      "imported1@example.com",
      "imported2@example.com",
      "+48601555002",
    ]);
    expect((await exportCsv({ to: middle })).rows).toHaveLength(3);
    expect(
      (await exportCsv({ from: middle, channel: "whatsapp" })).rows.map((r) => r.address),
    ).toEqual(["+48601555002"]);
    expect((await exportCsv({ from: new Date(Date.now() + 60_000) })).text).toBe(
      "address,channel,date,source,reason,reason_text,campaign,note\r\n",
    );
  });

  it("streams as a Response body with download headers", async () => {
    const filter = { channel: "sms" as const };
    const response = new Response(suppressionCsvStream(db, filter, { spreadsheetSafe: false }), {
      headers: suppressionCsvHeaders(filter),
    });
    expect(response.headers.get("content-disposition")).toMatch(
      /^attachment; filename="suppressions-sms-\d{4}-\d\d-\d\d\.csv"$/,
    );
    const text = await response.text();
    expect(text).toBe(
      `address,channel,date,source,reason,reason_text,campaign,note\r\n+48601555001,sms,${
        text.split("\r\n")[1]!.split(",")[2]
      },sms_keyword,,,,\r\n`,
    );
  });
});
