/**
 * The suppressions export is exact at its page boundaries (issue 14, item 3): whatever the page
 * size, every suppressed address comes out exactly once — rows that share their date (one bulk
 * import) or even their address (two keyed hashes) included — and while the download runs,
 * consent changes under it neither repeat nor drop an address that stays suppressed.
 */
import { parse } from "csv-parse/sync";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { applyConsentChange } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { suppressionCsvChunks } from "~/exports/suppressions.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;
const EMAILS = Array.from(
  { length: 23 },
  (_, i) => `page${String(i).padStart(2, "0")}@example.com`,
);
const PHONES = ["+48601000101", "+48601000102", "+48601000103"];

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
  // One bulk statement: every row has the same date, and consecutive ledger ids.
  await bulkUnsubscribe(
    db,
    EMAILS.map((address) => ({ channel: "email" as const, address })),
    { source: "import", importId: "00000000-0000-4000-8000-0000000000aa", note: "bulk" },
  );
  for (const address of PHONES) {
    await applyConsentChange(db, {
      channel: "sms",
      address,
      action: "unsubscribe",
      source: "sms_keyword",
    });
  }
  // The same address under two keyed hashes (as after a hash key change): a tie on the address.
  await sql`
    insert into channel_consent (channel, address_hash, address, status, updated_at)
    values ('email', 'twin-hash-a', 'page10@example.com', 'unsubscribed', now()),
           ('email', 'twin-hash-b', 'page10@example.com', 'unsubscribed', now())`.execute(db);
});
afterAll(async () => {
  await t?.close();
});

type Row = Record<string, string>;

async function exportAll(batchSize: number): Promise<Row[]> {
  let text = "";
  for await (const chunk of suppressionCsvChunks(db, {}, { batchSize })) text += chunk;
  return parse(text, { columns: true }) as Row[];
}

const key = (r: Row) => `${r.channel}:${r.address}`;

describe("the suppressions export at page boundaries", () => {
  it("every page size gives the same rows, each exactly once, in key order", async () => {
    const reference = await exportAll(1_000);
    expect(reference).toHaveLength(EMAILS.length + PHONES.length + 2);
    expect(reference.map(key)).toEqual(
      [
        ...EMAILS.map((a) => `email:${a}`),
        "email:page10@example.com",
        "email:page10@example.com",
        ...PHONES.map((a) => `sms:${a}`),
      ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    for (const size of [1, 2, 3, 4, 5, 7, 8, 13, 25, 26, 27, 28, 29]) {
      expect((await exportAll(size)).map(key), `pages of ${size}`).toEqual(reference.map(key));
    }
  });

  it("a download is exact while consent changes under it", async () => {
    const chunks = suppressionCsvChunks(db, {}, { batchSize: 4, header: false });
    let text = "";
    const first = await chunks.next();
    text += first.value as string;
    const exported = (parse(text) as string[][]).map((r) => r[0]!);
    expect(exported).toEqual(EMAILS.slice(0, 4));

    // Between two pages:
    // - an exported address changes (a topic opt-out writes a newer ledger row);
    await applyConsentChange(db, {
      channel: "email",
      address: exported[0]!,
      action: "topic_opt_out",
      topic: "news",
      source: "preference_page",
    });
    // - an address not exported yet is re-subscribed by an admin (so it is no longer suppressed);
    await applyConsentChange(db, {
      channel: "email",
      address: EMAILS[20]!,
      action: "subscribe",
      source: "admin",
      reasonText: "asked us by phone",
    });
    // - two new suppressions, one before the download's position and one after it.
    await applyConsentChange(db, {
      channel: "email",
      address: "a-before@example.com",
      action: "unsubscribe",
      source: "api",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: "zz-after@example.com",
      action: "unsubscribe",
      source: "api",
    });

    for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) text += chunk;
    const rows = (parse(text) as string[][]).map((r) => `${r[1]}:${r[0]}`);
    // Only the address held under three hashes repeats (its three rows).
    expect(rows.length - new Set(rows).size).toBe(2);
    expect(rows.filter((r) => r === "email:page10@example.com")).toHaveLength(3);
    expect(rows.filter((r) => r === `email:${exported[0]}`)).toHaveLength(1);
    expect(rows).not.toContain(`email:${EMAILS[20]}`);
    expect(rows).toContain("email:zz-after@example.com");
    expect(rows).not.toContain("email:a-before@example.com"); // its page was already read
    for (const a of EMAILS.filter((_, i) => i !== 20)) expect(rows).toContain(`email:${a}`);
    for (const a of PHONES) expect(rows).toContain(`sms:${a}`);
  });
});
