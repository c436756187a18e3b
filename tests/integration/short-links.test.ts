import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShortLink, resolveShortLink, SHORT_CODE_LENGTH } from "~/links/short-links.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

describe("short links", () => {
  it("store a local path under a random URL-safe code of 8+ characters", async () => {
    const codes = new Set<string>();
    for (let i = 0; i < 50; i++) codes.add(await createShortLink(t.db, "/u/some.token.here"));
    expect(codes.size).toBe(50);
    for (const code of codes)
      expect(code).toMatch(new RegExp(`^[A-Za-z0-9_-]{${SHORT_CODE_LENGTH}}$`));
    const [first] = codes;
    expect(await resolveShortLink(t.db, first!)).toEqual({
      ok: true,
      target: "/u/some.token.here",
    });
  });

  it("refuse external targets (no open redirect), unknown and expired codes", async () => {
    await expect(createShortLink(t.db, "https://evil.example")).rejects.toThrow(
      /path on this server/,
    );
    await expect(createShortLink(t.db, "//evil.example")).rejects.toThrow(/path on this server/);
    expect(await resolveShortLink(t.db, "doesnotexist")).toEqual({
      ok: false,
      reason: "not_found",
    });
    expect(await resolveShortLink(t.db, "../../etc")).toEqual({ ok: false, reason: "not_found" });
    const expired = await createShortLink(t.db, "/p/x", new Date(Date.now() - 1000));
    expect(await resolveShortLink(t.db, expired)).toEqual({ ok: false, reason: "expired" });
  });
});
