/**
 * POST /api/v1/links/batch over real HTTP, against the built server in production mode on the
 * test project's database: the answer is written as UTF-8 bytes and sent as one chunk with its
 * Content-Length (app/api/links.server.ts, app/api/errors.server.ts). The bytes must arrive
 * whole, decode as the JSON the API documents (non-ASCII external ids included), carry tokens
 * the server's keys verify, and refusals must still be JSON error bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "~/api/keys.server";
import type { Db } from "~/db/db.server";
import { verifyLinkTokenSync } from "~/links/tokens.server";
import { startSeededServer } from "./seeded-server";
import type { RunningServer } from "./server.helpers";

let server: RunningServer;
let stop: () => Promise<void>;
let apiKey = "";
const MANY = 2_500;

async function seed(db: Db) {
  await db
    .insertInto("contacts")
    .values([
      { external_id: "žluťoučký-kůň", email: "kun@example.com" },
      { external_id: 'quote"and\\slash', email: "Mixed.Case@Example.COM" },
      { external_id: "no-email", phone: "+48601444555" },
      ...Array.from({ length: MANY }, (_, i) => ({
        external_id: `many-${i}`,
        email: `many${i}@example.com`,
      })),
    ])
    .execute();
  apiKey = (await createApiKey(db, { name: "links-http", scopes: ["links"] })).key;
}

beforeAll(async () => {
  ({ server, stop } = await startSeededServer("links-http", seed));
}, 240_000);

afterAll(async () => {
  await stop?.();
});

const post = (body: unknown) =>
  fetch(`${server.url}/api/v1/links/batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

type Entry = {
  externalId: string;
  preferencesUrl?: string;
  unsubscribeUrl?: string;
  headers?: Record<string, string>;
  error?: { code: string };
};

describe("POST /api/v1/links/batch over HTTP", () => {
  it("sends the whole answer with its Content-Length, in order, with tokens that verify", async () => {
    const externalIds = [
      "žluťoučký-kůň",
      "missing",
      'quote"and\\slash',
      "no-email",
      ...Array.from({ length: MANY }, (_, i) => `many-${i}`),
      "žluťoučký-kůň",
    ];
    const res = await post({ channel: "email", campaign: "http-test", externalIds });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(bytes.length);
    const { results } = JSON.parse(bytes.toString("utf8")) as { results: Entry[] };
    expect(results.map((r) => r.externalId)).toEqual(externalIds);
    expect(results[1]!.error?.code).toBe("contact_not_found");
    expect(results[3]!.error?.code).toBe("no_address");
    expect(results.at(-1)).toEqual(results[0]);
    for (const r of [results[0]!, results[2]!, results[4]!, results.at(-2)!]) {
      const unsubscribe = r.unsubscribeUrl!.split("/u/")[1]!;
      const preferences = r.preferencesUrl!.split("/p/")[1]!;
      expect(verifyLinkTokenSync(unsubscribe, "unsubscribe")).toMatchObject({
        ok: true,
        claims: { cp: "http-test", ah: expect.any(String) },
      });
      expect(verifyLinkTokenSync(preferences, "preferences")).toMatchObject({ ok: true });
      expect(r.headers).toEqual({
        "List-Unsubscribe": `<${r.unsubscribeUrl}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      });
    }
  });

  it("answers refused requests with JSON error bodies", async () => {
    const empty = await post({ channel: "email", externalIds: [] });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { code: "invalid_request" } });
    const unknownTopic = await post({ channel: "email", topic: "nope", externalIds: ["x"] });
    expect(unknownTopic.status).toBe(422);
    expect(await unknownTopic.json()).toMatchObject({ error: { code: "unknown_topic" } });
    const noKey = await fetch(`${server.url}/api/v1/links/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { code: "unauthorized" } });
  });
});
