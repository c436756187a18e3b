/**
 * What the unsubscribe page reads for a link that names its address by hash
 * (loadContactAndHashConsent, decision 0120): one prepared statement, and under load one shared
 * statement for the pages that arrive together. Either way each page gets exactly what the two
 * separate reads answer (loadContact, then readConsentByHash): nothing recorded, topics, pause,
 * unsubscribed, a deleted or erased contact, a subject that is no contact id; the items of a
 * shared read in their own order. Run again and again (PostgreSQL switches a prepared statement
 * to a generic plan after five runs). Functional only.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addressKey,
  applyConsentChange,
  readConsentByHash,
  type ConsentChange,
} from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { loadContact, loadContactAndHashConsent } from "~/recipient/recipient.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { personMaker, recordingStatements } from "./db.helpers";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  // PGlite in its worker thread, as the server runs it (there the statement is prepared).
  t = await createTestDatabase({ pgliteWorker: true });
  db = t.db;
  await db
    .insertInto("topics")
    .values({
      key: "news",
      channels: ["email", "sms"],
      default_opt_in: true,
      names: '{"en":"News"}',
      descriptions: "{}",
    })
    .execute();
});
afterAll(async () => {
  await t?.close();
});

const newPerson = personMaker("link", 2000, "de");
const person = () => newPerson(db);

type Link = { sub: string; channel: Channel; hash: string };

/** What the page read in two steps before: the contact, then the address's state. */
async function twoSteps(l: Link) {
  return {
    contact: await loadContact(db, l.sub),
    consent: await readConsentByHash(db, l.channel, l.hash),
  };
}

/** A db over the same connections that counts the statements it sends. */
function counting(base: Db) {
  let statements = 0;
  return { db: recordingStatements(base, () => statements++), statements: () => statements };
}

/** Links in every state the page shows (contact ids and address hashes as tokens carry them). */
async function links(): Promise<Link[]> {
  const fresh = await person();
  const topics = await person();
  const paused = await person();
  const gone = await person();
  const erased = await person();
  const until = new Date(Date.now() + 30 * 86_400_000);
  const change = (c: Omit<ConsentChange, "source">) =>
    applyConsentChange(db, { ...c, source: "preference_page" });
  await change({ channel: "email", address: topics.email, action: "topic_opt_out", topic: "news" });
  await change({ channel: "sms", address: topics.phone, action: "unsubscribe" });
  await change({ channel: "email", address: paused.email, action: "pause", pausedUntil: until });
  await change({ channel: "email", address: gone.email, action: "unsubscribe" });
  await sql`delete from contacts where id = ${gone.id}::uuid`.execute(db);
  await sql`update contacts set erased_at = now() where id = ${erased.id}::uuid`.execute(db);
  const email = (p: { id: string; email: string }) => ({
    sub: p.id,
    channel: "email" as const,
    hash: addressKey(p.email),
  });
  return [
    email(fresh),
    email(topics),
    { sub: topics.id, channel: "sms", hash: addressKey(topics.phone) },
    email(paused),
    email(gone),
    email(erased),
    // A subject that is no contact id, and a contact whose link names another address.
    { sub: "not-a-uuid", channel: "email", hash: addressKey(fresh.email) },
    { sub: fresh.id, channel: "email", hash: addressKey("someone.else@example.com") },
  ];
}

describe("the unsubscribe link's read", () => {
  it("alone: what the two separate reads answer, in every state, again and again", async () => {
    const all = await links();
    for (let round = 0; round < 7; round++) {
      for (const l of all) {
        expect(await loadContactAndHashConsent(db, l.sub, l.channel, l.hash)).toEqual(
          await twoSteps(l),
        );
      }
    }
    const [, topics, sms, paused, gone, erased] = await Promise.all(all.map(twoSteps));
    expect(topics!.consent.topics).toEqual({ news: "opted_out" });
    expect(sms!.consent.status).toBe("unsubscribed");
    expect(paused!.consent.pausedUntil).not.toBeNull();
    expect(gone).toMatchObject({ contact: null, consent: { status: "unsubscribed" } });
    expect(erased!.contact).toBeNull();
  });

  it("together: one shared statement, each page its own answer in its own order", async () => {
    const all = await links();
    const expected = await Promise.all(all.map(twoSteps));
    for (let round = 0; round < 7; round++) {
      const c = counting(db);
      // Every link three times over, reversed on odd rounds: arrival order is kept per page.
      const batch = [...all, ...all, ...all];
      if (round % 2) batch.reverse();
      const want = batch.map((l) => expected[all.indexOf(l)]);
      const got = await Promise.all(
        batch.map((l) => loadContactAndHashConsent(c.db, l.sub, l.channel, l.hash)),
      );
      expect(got).toEqual(want);
      // The first page reads alone (an idle server adds no wait); the others arrived while it
      // ran and share the next statement.
      expect(c.statements()).toBeLessThanOrEqual(2);
    }
  });

  it("is a prepared statement of the session", async () => {
    const [l] = await links();
    await db.connection().execute(async (conn) => {
      await loadContactAndHashConsent(conn, l!.sub, l!.channel, l!.hash);
      const { rows } = await sql<{ name: string }>`
        select name from pg_prepared_statements
        where name = 'heed_recipient_link_read'`.execute(conn);
      expect(rows.map((r) => r.name)).toEqual(["heed_recipient_link_read"]);
    });
  });
});
