import { describe, expect, it } from "vitest";
import {
  hashAddress,
  normalizeAddress,
  normalizeEmail,
  normalizeEmailFully,
  normalizePhone,
} from "~/consent/address.server";

describe("email normalization", () => {
  it.each([
    ["  Jane.Doe@Example.COM ", "jane.doe@example.com"],
    ["a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"],
    ["user@bücher.de", "user@xn--bcher-kva.de"],
    ["USER@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"],
    ["o'brien@example.ie", "o'brien@example.ie"],
    // RFC 5322 atext beyond zod's default `_'+-`: real addresses, so their opt-outs count.
    ["Tom&Jerry@Example.com", "tom&jerry@example.com"],
    ["{ops}@example.com", "{ops}@example.com"],
    ["a!#$%*/=?^`~@example.com", "a!#$%*/=?^`~@example.com"],
  ])("normalizes %j to %j", (input, expected) => {
    expect(normalizeEmail(input)).toEqual({ ok: true, address: expected });
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["plainaddress", "invalid_email"],
    ["@example.com", "invalid_email"],
    ["user@", "invalid_email"],
    ["user@@example.com", "invalid_email"],
    ["user@exa mple.com", "invalid_email"],
    ["user@localhost", "invalid_email"],
    ["a..b@example.com", "invalid_email"],
    [".a@example.com", "invalid_email"],
    ["a.@example.com", "invalid_email"],
    ['"a b"@example.com', "invalid_email"],
    ["a(b)@example.com", "invalid_email"],
    ["a,b@example.com", "invalid_email"],
    // `|` is atext, but a spreadsheet's DDE formula needs it (exports keep addresses as they are).
    ["+cmd|'/ccalc'!a0@example.com", "invalid_email"],
    [`${"x".repeat(65)}@example.com`, "invalid_email"],
  ])("rejects %j as %s", (input, reason) => {
    expect(normalizeEmail(input)).toEqual({ ok: false, reason });
  });
});

describe("email normalization of addresses already normalized (the shortcut)", () => {
  // normalizeEmail answers an address that is already in normalized form without the full path
  // (NFC, trim, lower-case, punycode, the schema): both must agree on everything.
  const samples = [
    "jane.doe@example.com",
    "a+tag@sub.example.co.uk",
    "a_b-c@x-y.example.org",
    "user@xn--bcher-kva.de",
    "user@xn--invalid-.de",
    "user@xn--a.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@ab--cd.com",
    "a@example.c",
    "a@example.c0m",
    "a@123.456.com",
    "a@example.com.",
    "o'brien@example.ie",
    "a&b@example.com",
    "{ops}@example.com",
    `${"x".repeat(64)}@example.com`,
    `${"x".repeat(65)}@example.com`,
    `a@${"l".repeat(63)}.com`,
    `a@${"l".repeat(64)}.com`,
    `a@${"l".repeat(200)}.com`,
    `${"x".repeat(60)}@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.com`,
    `${"x".repeat(60)}@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(66)}.com`,
    "a@b.co",
    "Jane@example.com",
    " jane@example.com",
  ];
  it.each(samples)("%j: the shortcut and the full path agree", (address) => {
    expect(normalizeEmail(address)).toEqual(normalizeEmailFully(address));
  });

  it("agrees on generated addresses", () => {
    const alphabet = "abz09._+-@xn";
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const n = 3 + (next() % 30);
      let s = "";
      for (let j = 0; j < n; j++) s += alphabet[next() % alphabet.length];
      const address = `${s}.com`;
      expect(normalizeEmail(address), address).toEqual(normalizeEmailFully(address));
    }
  });
});

describe("phone normalization", () => {
  it.each([
    ["+48 601 234 567", undefined, "+48601234567"],
    ["0048601234567", undefined, "+48601234567"],
    ["601-234-567", "PL", "+48601234567"],
    ["whatsapp:+48601234567", undefined, "+48601234567"],
    ["+1 (415) 555-2671", undefined, "+14155552671"],
    ["+44 7911 123456", undefined, "+447911123456"],
    // Without "+": how a spreadsheet stores a number, 00 dropped, Excel's scientific notation.
    ["420777111222", undefined, "+420777111222"],
    ["420777111222", "CZ", "+420777111222"],
    ["00420 777 111 222", undefined, "+420777111222"],
    ["4.20777111222E+11", undefined, "+420777111222"],
    ["777 111 222", "CZ", "+420777111222"],
    ["48601234567", "CZ", "+48601234567"],
  ])("normalizes %j (region %s) to E.164 %j", (input, region, expected) => {
    expect(normalizePhone(input, region)).toEqual({ ok: true, address: expected });
  });

  it.each([
    ["", "empty"],
    ["601234567", "missing_country_code"], // no country and no default region
    ["+48 12", "invalid_phone"],
    ["+999 1234567", "invalid_phone"],
    ["call me maybe", "invalid_phone"],
    ["777 111 222", "missing_country_code"],
    ["4.2E+11", "invalid_phone"], // digits lost: not expanded
  ])("rejects %j as %s", (input, reason) => {
    expect(normalizePhone(input)).toEqual({ ok: false, reason });
  });

  it("routes by channel: sms and whatsapp take phones, email takes emails", () => {
    expect(normalizeAddress("sms", "+48601234567")).toEqual({ ok: true, address: "+48601234567" });
    expect(normalizeAddress("whatsapp", "+48601234567").ok).toBe(true);
    expect(normalizeAddress("email", "+48601234567")).toEqual({
      ok: false,
      reason: "invalid_email",
    });
    expect(normalizeAddress("sms", "a@example.com")).toEqual({
      ok: false,
      reason: "invalid_phone",
    });
  });
});

describe("address hashes", () => {
  it("are keyed: the same address under another key hashes differently", () => {
    const a = hashAddress("key-one-0123456789abcdef0123456789", "a@example.com");
    expect(a).toBe(hashAddress("key-one-0123456789abcdef0123456789", "a@example.com"));
    expect(a).not.toBe(hashAddress("key-two-0123456789abcdef0123456789", "a@example.com"));
    expect(a).not.toContain("example");
  });
});
