import crypto from "node:crypto";
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ByteBuffer } from "~/http/byte-buffer.server";
import { parseSigningKeys } from "~/secrets.server";
import {
  CONFIRM_TTL_SECONDS,
  LINK_TTL_SECONDS,
  genuineClaims,
  base64urlInto,
  linkTokenSigner,
  LinkTokens,
  signLinkToken,
  signLinkTokenSync,
  tokenFailureStatus,
  verifyLinkToken,
  verifyLinkTokenSync,
} from "~/links/tokens.server";

const oldKeys = parseSigningKeys("k1:first-secret-0123456789abcdef0123456789");
const rotated = parseSigningKeys(
  "k2:second-secret-0123456789abcdef012345678,k1:first-secret-0123456789abcdef0123456789",
);
const contactId = "0b6f1f0e-3c1f-4d55-9a55-6c0f7d7a1a01";

describe("link tokens", () => {
  it("round-trips the claims and carries the kid of the signing key", async () => {
    const token = await signLinkToken(
      {
        contactId,
        channel: "sms",
        purpose: "unsubscribe",
        topic: "promotions",
        campaign: "bf-2026",
      },
      rotated,
    );
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", kid: "k2" });
    const result = await verifyLinkToken(token, "unsubscribe", { keys: rotated });
    expect(result).toMatchObject({
      ok: true,
      claims: { sub: contactId, ch: "sms", tp: "promotions", cp: "bf-2026", pur: "unsubscribe" },
    });
  });

  it("holds opaque ids only: no address, no name in the payload", async () => {
    const token = await signLinkToken(
      { contactId, channel: "email", purpose: "preferences" },
      rotated,
    );
    const payload = decodeJwt(token);
    expect(Object.keys(payload).sort()).toEqual(["ch", "exp", "iat", "pur", "sub"]);
    expect(JSON.stringify(payload)).not.toMatch(/@|\+\d/);
  });

  it("expires after 400 days for links and 7 days for confirmations", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const link = decodeJwt(
      await signLinkToken({ contactId, channel: "email", purpose: "unsubscribe", now }, rotated),
    );
    expect(link.exp! - link.iat!).toBe(LINK_TTL_SECONDS);
    expect(LINK_TTL_SECONDS).toBe(400 * 86400);
    const confirm = decodeJwt(
      await signLinkToken(
        { contactId, channel: "email", purpose: "confirm", requestId: "r1", now },
        rotated,
      ),
    );
    expect(confirm.exp! - confirm.iat!).toBe(CONFIRM_TTL_SECONDS);
  });

  it("refuses a tampered payload or signature", async () => {
    const token = await signLinkToken(
      { contactId, channel: "email", purpose: "unsubscribe" },
      rotated,
    );
    const [h, p, s] = token.split(".") as [string, string, string];
    const otherPayload = Buffer.from(
      JSON.stringify({ ...decodeJwt(token), sub: "0b6f1f0e-3c1f-4d55-9a55-6c0f7d7a1a02" }),
    ).toString("base64url");
    expect(
      await verifyLinkToken(`${h}.${otherPayload}.${s}`, "unsubscribe", { keys: rotated }),
    ).toEqual({
      ok: false,
      reason: "invalid",
    });
    const flipped = s.slice(0, -2) + (s.endsWith("AA") ? "BB" : "AA");
    expect(await verifyLinkToken(`${h}.${p}.${flipped}`, "unsubscribe", { keys: rotated })).toEqual(
      {
        ok: false,
        reason: "invalid",
      },
    );
    expect(await verifyLinkToken("not-a-token", "unsubscribe", { keys: rotated })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("reports expiry (410) only for a genuine token", async () => {
    const longAgo = new Date("2020-01-01T00:00:00Z");
    const token = await signLinkToken(
      { contactId, channel: "email", purpose: "unsubscribe", now: longAgo },
      rotated,
    );
    const result = await verifyLinkToken(token, "unsubscribe", { keys: rotated });
    expect(result).toEqual({ ok: false, reason: "expired" });
    expect(tokenFailureStatus("expired")).toBe(410);
    expect(tokenFailureStatus("invalid")).toBe(400);
    // Tampered and expired reads as invalid: the signature is checked first.
    const [h, p] = token.split(".");
    expect(
      await verifyLinkToken(`${h}.${p}.${"A".repeat(43)}`, "unsubscribe", { keys: rotated }),
    ).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuses a token of another purpose", async () => {
    const token = await signLinkToken(
      { contactId, channel: "email", purpose: "preferences" },
      rotated,
    );
    expect(await verifyLinkToken(token, "unsubscribe", { keys: rotated })).toEqual({
      ok: false,
      reason: "wrong_purpose",
    });
    expect(
      (await verifyLinkToken(token, ["unsubscribe", "preferences"], { keys: rotated })).ok,
    ).toBe(true);
  });

  it("refuses an unknown kid", async () => {
    const foreign = parseSigningKeys("k9:some-other-secret-0123456789abcdef0123");
    const token = await signLinkToken(
      { contactId, channel: "email", purpose: "preferences" },
      foreign,
    );
    expect(await verifyLinkToken(token, "preferences", { keys: rotated })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("still verifies links signed with a rotated-out key, and signs with the new one", async () => {
    const before = await signLinkToken(
      { contactId, channel: "email", purpose: "unsubscribe" },
      oldKeys,
    );
    expect(decodeProtectedHeader(before).kid).toBe("k1");
    expect((await verifyLinkToken(before, "unsubscribe", { keys: rotated })).ok).toBe(true);
    const after = await signLinkToken(
      { contactId, channel: "email", purpose: "unsubscribe" },
      rotated,
    );
    expect(decodeProtectedHeader(after).kid).toBe("k2");
    // ...and a key removed from the ring no longer verifies.
    const onlyNew = parseSigningKeys("k2:second-secret-0123456789abcdef012345678");
    expect(await verifyLinkToken(before, "unsubscribe", { keys: onlyNew })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuses alg=none and a token signed with another algorithm", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", kid: "k2" })).toString("base64url");
    const payload = Buffer.from(
      JSON.stringify({ sub: contactId, ch: "email", pur: "unsubscribe", iat: 1, exp: 4102444800 }),
    ).toString("base64url");
    expect(
      await verifyLinkToken(`${header}.${payload}.${"A".repeat(43)}`, "unsubscribe", {
        keys: rotated,
      }),
    ).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("the batch signer (one JSON template per batch) signs byte for byte what signLinkTokenSync signs, and jose verifies it", async () => {
    const now = new Date("2026-03-04T05:06:07Z");
    const shapes = [
      { channel: "email", purpose: "unsubscribe", topic: "news", campaign: "c-1" },
      { channel: "email", purpose: "preferences", campaign: "2026/11:bf.x" },
      { channel: "sms", purpose: "unsubscribe" },
      { channel: "whatsapp", purpose: "preferences", topic: null, campaign: null },
      // Values a JSON string must escape go through JSON.stringify.
      { channel: "email", purpose: "unsubscribe", campaign: 'odd "campaign" \\ é' },
    ] as const;
    for (const shape of shapes) {
      const sign = linkTokenSigner({ ...shape, now }, rotated);
      for (const [id, hash] of [
        [contactId, "h".repeat(43)],
        [contactId, null],
        ['sub-with-"quote', "a_b-c"],
      ] as const) {
        const batch = sign(id, hash);
        const single = signLinkTokenSync(
          { ...shape, contactId: id, addressHash: hash, now },
          rotated,
        );
        expect(batch).toBe(single);
        const { payload } = await jwtVerify(batch, rotated[0]!.secret, {
          algorithms: ["HS256"],
          currentDate: now,
        });
        expect(payload.sub).toBe(id);
        expect(verifyLinkTokenSync(batch, shape.purpose, { keys: rotated, now })).toMatchObject({
          ok: true,
        });
      }
    }
  });

  it("the batch writer writes the same tokens one after another into a growing arena", async () => {
    const now = new Date("2026-03-04T05:06:07Z");
    const shape = { channel: "email", purpose: "unsubscribe", campaign: "c-1" } as const;
    const writer = new LinkTokens({ ...shape, now }, rotated);
    const arena = new ByteBuffer(16); // grows many times
    const made: { start: number; end: number; id: string; hash: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      // uuids, long ids (the payload scratch grows), ids needing escapes, with and without a hash
      const id =
        i % 7 === 0 ? `long-${"x".repeat(i * 3)}` : i % 11 === 0 ? `é"\\${i}` : crypto.randomUUID();
      const hash = i % 3 === 0 ? null : crypto.randomBytes(32).toString("base64url");
      const start = writer.write(arena, id, hash);
      made.push({ start, end: arena.length, id, hash });
    }
    for (const { start, end, id, hash } of made) {
      const token = arena.latin1(start, end);
      expect(token).toBe(
        signLinkTokenSync({ ...shape, contactId: id, addressHash: hash, now }, rotated),
      );
    }
    const last = made.at(-1)!;
    const { payload } = await jwtVerify(arena.latin1(last.start, last.end), rotated[0]!.secret, {
      algorithms: ["HS256"],
      currentDate: now,
    });
    expect(payload).toMatchObject({ sub: last.id, pur: "unsubscribe", cp: "c-1" });
  });

  it("LinkTokens signs signLinkTokenSync's tokens whatever the length of the shared start", () => {
    // The start every token shares is copied already encoded up to its last whole 3-byte group
    // and the 0–2 bytes after it are encoded with the values: campaigns and topics of every
    // length modulo 3 (and none) move that boundary, with and without an address hash.
    const now = new Date("2026-03-04T05:06:07Z");
    for (const purpose of ["preferences", "unsubscribe"] as const) {
      for (let len = 0; len <= 7; len++) {
        const campaign = len === 0 ? null : "c".repeat(len);
        const topic = len % 2 ? null : `t${"o".repeat(len)}`;
        const shape = { channel: "sms" as const, purpose, campaign, topic, now };
        const tokens = new LinkTokens(shape, rotated);
        const arena = new ByteBuffer(64);
        for (const hash of [null, crypto.randomBytes(32).toString("base64url")]) {
          const id = crypto.randomUUID();
          const start = tokens.write(arena, id, hash);
          expect(arena.latin1(start, arena.length)).toBe(
            signLinkTokenSync({ ...shape, contactId: id, addressHash: hash }, rotated),
          );
        }
      }
    }
  });

  it("base64urlInto is Buffer's base64url for every length", () => {
    const out = Buffer.alloc(200);
    for (let n = 0; n <= 100; n++) {
      const src = crypto.randomBytes(n + 4);
      const end = base64urlInto(src, 2, 2 + n, out, 5);
      expect(out.toString("latin1", 5, end)).toBe(src.subarray(2, 2 + n).toString("base64url"));
    }
  });

  it("tokens are standard JWS: jose verifies what Heed signs, Heed verifies what jose signed (links already sent)", async () => {
    const secret = rotated[0]!.secret;
    const token = signLinkTokenSync(
      {
        contactId,
        channel: "email",
        purpose: "unsubscribe",
        addressHash: "x".repeat(43),
        topic: "news",
        campaign: "c-1",
      },
      rotated,
    );
    const { payload, protectedHeader } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
    expect(protectedHeader).toEqual({ alg: "HS256", kid: "k2" });
    expect(payload).toMatchObject({ sub: contactId, ah: "x".repeat(43), tp: "news", cp: "c-1" });
    expect(payload.exp! - payload.iat!).toBe(LINK_TTL_SECONDS);

    // A token as jose signed every link before (issue 14.4 changed the signer, not the format).
    const iat = Math.floor(Date.now() / 1000);
    const old = await new SignJWT({ ch: "sms", pur: "unsubscribe", cp: "old-campaign" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setSubject(contactId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + LINK_TTL_SECONDS)
      .sign(rotated[1]!.secret);
    expect(await verifyLinkToken(old, "unsubscribe", { keys: rotated })).toEqual({
      ok: true,
      claims: {
        sub: contactId,
        ch: "sms",
        pur: "unsubscribe",
        cp: "old-campaign",
        iat,
        exp: iat + LINK_TTL_SECONDS,
      },
    });
    // A header jose would refuse (crit, b64) is refused here too.
    const [, p, s] = old.split(".") as [string, string, string];
    for (const header of [
      { alg: "HS256", kid: "k1", crit: ["exp"], exp: 1 },
      { alg: "HS256", kid: "k1", b64: false, crit: ["b64"] },
      { alg: "HS512", kid: "k1" },
    ]) {
      const h = Buffer.from(JSON.stringify(header)).toString("base64url");
      expect((await verifyLinkToken(`${h}.${p}.${s}`, "unsubscribe", { keys: rotated })).ok).toBe(
        false,
      );
    }
  });

  it("genuineClaims reads a genuine token whatever its expiry, and nothing from a forged one", () => {
    const token = signLinkTokenSync(
      { contactId, channel: "email", purpose: "confirm", now: new Date("2020-01-01T00:00:00Z") },
      rotated,
    );
    expect(genuineClaims(token, rotated)?.sub).toBe(contactId);
    expect(genuineClaims(token.slice(0, -2) + "AA", rotated)).toBeNull();
  });
});
