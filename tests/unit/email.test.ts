import { describe, expect, it } from "vitest";
import { parseEnv } from "~/env.server";
import { codeOfRecipient, mailtoCode } from "~/email/mailto.server";
import { isSnsUrl, stringToSign, type SnsEnvelope } from "~/email/providers/sns.server";
import { verifyBasicAuth } from "~/email/providers/postmark.server";

describe("mailto codes", () => {
  const config = { base: "unsubscribe", domain: "unsub.example.com" };

  it("are 26 lower-case base32 characters, the same for the same link, different otherwise", () => {
    const a = mailtoCode("hash-a", null, "spring");
    expect(a).toMatch(/^[a-z2-7]{26}$/);
    expect(mailtoCode("hash-a", null, "spring")).toBe(a);
    expect(mailtoCode("hash-a", null, "summer")).not.toBe(a);
    expect(mailtoCode("hash-a", "newsletter", "spring")).not.toBe(a);
    expect(mailtoCode("hash-b", null, "spring")).not.toBe(a);
  });

  it("are read from a recipient address only at the configured base and domain, any case", () => {
    const code = mailtoCode("h", null, null);
    expect(codeOfRecipient(`unsubscribe+${code}@unsub.example.com`, config)).toBe(code);
    expect(codeOfRecipient(`<UNSUBSCRIBE+${code.toUpperCase()}@Unsub.Example.com>`, config)).toBe(
      code,
    );
    expect(codeOfRecipient(`unsubscribe+${code}@other.example.com`, config)).toBeNull();
    expect(codeOfRecipient(`other+${code}@unsub.example.com`, config)).toBeNull();
    expect(codeOfRecipient("unsubscribe@unsub.example.com", config)).toBeNull();
    expect(codeOfRecipient(`unsubscribe+${code}x@unsub.example.com`, config)).toBeNull();
    expect(codeOfRecipient(`unsubscribe+${code}@unsub.example.com`, null)).toBeNull();
  });

  it("need a base local part that leaves room for the code", () => {
    expect(() => parseEnv({ UNSUBSCRIBE_MAILTO: "list+unsub@example.com" })).toThrow(
      /UNSUBSCRIBE_MAILTO/,
    );
    expect(() => parseEnv({ UNSUBSCRIBE_MAILTO: `${"u".repeat(38)}@example.com` })).toThrow(
      /UNSUBSCRIBE_MAILTO/,
    );
    expect(parseEnv({ UNSUBSCRIBE_MAILTO: "unsubscribe@example.com" }).UNSUBSCRIBE_MAILTO).toBe(
      "unsubscribe@example.com",
    );
  });
});

describe("SNS", () => {
  it("fetches certificates only from https://sns.<region>.amazonaws.com/…pem", () => {
    expect(
      isSnsUrl("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem", "cert"),
    ).toBe(true);
    expect(
      isSnsUrl("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", "cert"),
    ).toBe(true);
    for (const bad of [
      "http://sns.eu-west-1.amazonaws.com/x.pem",
      "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
      "https://evilsns.eu-west-1.amazonaws.com/x.pem",
      "https://sns.eu-west-1.amazonaws.com:444/x.pem",
      "https://user@sns.eu-west-1.amazonaws.com/x.pem",
      "https://sns.eu-west-1.amazonaws.com/x.txt",
      "not a url",
    ]) {
      expect(isSnsUrl(bad, "cert"), bad).toBe(false);
    }
  });

  it("builds the string to sign as AWS documents it (Subject only when present)", () => {
    const m = {
      Type: "Notification",
      MessageId: "id-1",
      TopicArn: "arn:aws:sns:us-east-1:123456789012:t",
      Message: "hello\nworld",
      Timestamp: "2026-01-01T00:00:00.000Z",
      SignatureVersion: "1",
      Signature: "x",
      SigningCertURL: "https://sns.us-east-1.amazonaws.com/x.pem",
    } as SnsEnvelope;
    expect(stringToSign(m)).toBe(
      "Message\nhello\nworld\nMessageId\nid-1\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n",
    );
    expect(stringToSign({ ...m, Subject: "S" })).toContain(
      "MessageId\nid-1\nSubject\nS\nTimestamp",
    );
  });
});

describe("Postmark basic auth", () => {
  it("accepts only the configured user and password", () => {
    const h = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    expect(verifyBasicAuth(h("heed:secret-password-123"), "heed", "secret-password-123")).toBe(
      true,
    );
    expect(verifyBasicAuth(h("heed:secret-password-124"), "heed", "secret-password-123")).toBe(
      false,
    );
    expect(verifyBasicAuth(h("other:secret-password-123"), "heed", "secret-password-123")).toBe(
      false,
    );
    expect(verifyBasicAuth(null, "heed", "secret-password-123")).toBe(false);
    expect(verifyBasicAuth("Bearer abc", "heed", "secret-password-123")).toBe(false);
  });
});
