import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { erasurePreview } from "~/consent/erasure.server";
import { getContact } from "~/contacts/contacts.server";
import type { Db } from "~/db/db.server";
import { getImportJob } from "~/imports/jobs.server";
import { loadContact } from "~/recipient/recipient.server";
import { getWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

describe("ids from URLs that are not uuids", () => {
  // 36 characters of the right alphabet, but not a uuid: the database would refuse the statement.
  const lookalikes = ["-".repeat(36), "a".repeat(36), "0000000-00000-0000-0000-0000000000000"];

  it("find nothing instead of reaching the database", async () => {
    for (const id of lookalikes) {
      expect(await getImportJob(db, id)).toBeUndefined();
      expect(await getWebhookEndpoint(db, id)).toBeNull();
      expect(await erasurePreview(db, id)).toBeNull();
      expect(await getContact(db, id)).toBeNull();
      expect(await loadContact(db, id)).toBeNull();
    }
  });
});
