import { describe, expect, it } from "vitest";
import { twiml, twilioSignature, verifyTwilioSignature } from "~/sms/providers/twilio.server";

// Twilio's documented example (twilio-php RequestValidator docs): auth token 12345.
const DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_FIELDS: [string, string][] = [
  ["CallSid", "CA1234567890ABCDE"],
  ["Caller", "+14158675309"],
  ["Digits", "1234"],
  ["From", "+14158675309"],
  ["To", "+18005551212"],
];
const DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

describe("X-Twilio-Signature", () => {
  it("matches Twilio's documented test vector", () => {
    expect(twilioSignature("12345", DOC_URL, DOC_FIELDS)).toBe(DOC_SIGNATURE);
    expect(verifyTwilioSignature("12345", DOC_URL, DOC_FIELDS, DOC_SIGNATURE)).toBe(true);
  });

  it("does not depend on the order the fields arrive in", () => {
    const shuffled = [...DOC_FIELDS].reverse();
    expect(verifyTwilioSignature("12345", DOC_URL, shuffled, DOC_SIGNATURE)).toBe(true);
  });

  it("refuses a changed field, URL, token, or a missing/garbage signature", () => {
    const tampered = DOC_FIELDS.map(
      ([k, v]) => [k, k === "Digits" ? "1235" : v] as [string, string],
    );
    expect(verifyTwilioSignature("12345", DOC_URL, tampered, DOC_SIGNATURE)).toBe(false);
    expect(
      verifyTwilioSignature("12345", DOC_URL.replace("bar=2", "bar=3"), DOC_FIELDS, DOC_SIGNATURE),
    ).toBe(false);
    expect(verifyTwilioSignature("54321", DOC_URL, DOC_FIELDS, DOC_SIGNATURE)).toBe(false);
    expect(verifyTwilioSignature("12345", DOC_URL, DOC_FIELDS, null)).toBe(false);
    expect(verifyTwilioSignature("12345", DOC_URL, DOC_FIELDS, "")).toBe(false);
    expect(verifyTwilioSignature("12345", DOC_URL, DOC_FIELDS, "x".repeat(500))).toBe(false);
    expect(
      verifyTwilioSignature("12345", DOC_URL, [...DOC_FIELDS, ["Extra", "1"]], DOC_SIGNATURE),
    ).toBe(false);
  });

  it("accepts the URL with or without the default port, as Twilio's helpers do", () => {
    const withPort = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    const sig = twilioSignature("12345", withPort, DOC_FIELDS);
    expect(verifyTwilioSignature("12345", DOC_URL, DOC_FIELDS, sig)).toBe(true);
    expect(verifyTwilioSignature("12345", withPort, DOC_FIELDS, DOC_SIGNATURE)).toBe(true);
  });

  it("signs repeated fields by name, then value", () => {
    const a = twilioSignature("t", "https://x", [
      ["M", "b"],
      ["M", "a"],
      ["A", "1"],
    ]);
    const b = twilioSignature("t", "https://x", [
      ["A", "1"],
      ["M", "a"],
      ["M", "b"],
    ]);
    expect(a).toBe(b);
  });
});

describe("TwiML", () => {
  it("is an empty Response, or one escaped Message", () => {
    expect(twiml()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    expect(twiml("a<b & 'c'")).toContain("<Message>a&#60;b &#38; &#39;c&#39;</Message>");
  });
});
