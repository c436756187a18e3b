import { describe, expect, it } from "vitest";
import {
  hashAddress,
  normalizeAddress,
  normalizeEmail,
  normalizePhone,
} from "~/consent/address.server";

describe("email normalization", () => {
  it.each([
    ["  Jane.Doe@Example.COM ", "jane.doe@example.com"],
    ["a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"],
    ["user@bücher.de", "user@xn--bcher-kva.de"],
    ["USER@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de"],
    ["o'brien@example.ie", "o'brien@example.ie"],
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
    [`${"x".repeat(65)}@example.com`, "invalid_email"],
  ])("rejects %j as %s", (input, reason) => {
    expect(normalizeEmail(input)).toEqual({ ok: false, reason });
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
