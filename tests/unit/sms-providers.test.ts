import crypto from "node:crypto";
import plivo from "plivo";
import { describe, expect, it } from "vitest";
import { parseEnv } from "~/env.server";
import { confirmationDeadline, storableText } from "~/sms/inbound.server";
import { verifyMetaHandshake, metaInbound } from "~/sms/providers/meta.server";
import { plivoSignatureV3 } from "~/sms/providers/plivo.server";
import { telnyxInbound } from "~/sms/providers/telnyx.server";

/** Provider details that need no database: signature schemes' edge cases and payload shapes. */

describe("Plivo V3 signatures agree with the plivo package's validator", () => {
  it.each([
    "https://heed.example.com/webhooks/sms/plivo",
    "https://heed.example.com/webhooks/sms/plivo?b=2&a=1",
    "https://heed.example.com:8443/hooks/plivo?site=x",
  ])("for %s", (url) => {
    const params = { From: "48601000001", To: "14155550100", Text: "nie chcę", MessageUUID: "u-1" };
    const sig = plivoSignatureV3("token-123456", url, new URLSearchParams(params), "nonce-1");
    expect(plivo.validateV3Signature("POST", url, "nonce-1", "token-123456", sig, params)).toBe(
      true,
    );
    expect(plivo.validateV3Signature("POST", url, "nonce-2", "token-123456", sig, params)).toBe(
      false,
    );
  });
});

describe("Telnyx", () => {
  const keys = crypto.generateKeyPairSync("ed25519");
  const pub = keys.publicKey
    .export({ format: "der", type: "spki" })
    .subarray(-32)
    .toString("base64");
  const env = parseEnv({ TELNYX_PUBLIC_KEY: pub });
  const body = Buffer.from('{"data":{"event_type":"message.received"}}');
  const sign = (ts: string, b = body) =>
    crypto
      .sign(null, Buffer.concat([Buffer.from(`${ts}|`), b]), keys.privateKey)
      .toString("base64");
  const verify = (ts: string, sig: string, now = Date.now(), raw = body) =>
    telnyxInbound.verify({
      raw,
      headers: new Headers({ "telnyx-timestamp": ts, "telnyx-signature-ed25519": sig }),
      url: "",
      env,
      now,
    });

  it("accepts a signature within the tolerance and refuses one outside it or for another body", () => {
    const ts = String(Math.floor(Date.now() / 1000));
    expect(verify(ts, sign(ts))).toBe(true);
    expect(verify(ts, sign(ts), Date.now() + 301_000)).toBe(false);
    expect(verify(ts, sign(ts), Date.now(), Buffer.from("{}"))).toBe(false);
    expect(verify(ts, "AAAA")).toBe(false);
    expect(verify("not-a-number", sign(ts))).toBe(false);
  });
});

describe("WhatsApp Cloud API", () => {
  it("answers the handshake only with the right token, in constant-time comparison", () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(
      verifyMetaHandshake(
        q("hub.mode=subscribe&hub.verify_token=secret-token&hub.challenge=42"),
        "secret-token",
      ),
    ).toBe("42");
    expect(
      verifyMetaHandshake(
        q("hub.mode=subscribe&hub.verify_token=secret-toke&hub.challenge=42"),
        "secret-token",
      ),
    ).toBeNull();
    expect(
      verifyMetaHandshake(
        q("hub.mode=unsubscribe&hub.verify_token=secret-token&hub.challenge=42"),
        "secret-token",
      ),
    ).toBeNull();
    expect(
      verifyMetaHandshake(q("hub.mode=subscribe&hub.verify_token=x&hub.challenge=<script>"), "x"),
    ).toBeNull();
    expect(
      verifyMetaHandshake(q("hub.mode=subscribe&hub.verify_token=&hub.challenge=1"), undefined),
    ).toBeNull();
  });

  it("reads interactive replies and skips entries without messages", () => {
    const body = Buffer.from(
      JSON.stringify({
        object: "whatsapp_business_account",
        entry: [
          { id: "1", changes: [{ field: "messages", value: { statuses: [{ id: "s" }] } }] },
          {
            id: "2",
            changes: [
              {
                field: "messages",
                value: {
                  metadata: { display_phone_number: "15550001111" },
                  messages: [
                    {
                      from: "48601000001",
                      id: "wamid.A",
                      timestamp: "1764300000",
                      type: "interactive",
                      interactive: {
                        type: "button_reply",
                        button_reply: { id: "optout", title: "Stop promotions" },
                      },
                    },
                    {
                      from: "48601000002",
                      id: "wamid.B",
                      timestamp: "1764300001",
                      type: "image",
                      image: {},
                    },
                  ],
                },
              },
            ],
          },
        ],
      }),
    );
    const msgs = metaInbound.translate(body, parseEnv({}));
    expect(msgs).toEqual([
      expect.objectContaining({
        providerMessageId: "wamid.A",
        from: "+48601000001",
        text: "Stop promotions",
        buttonPayload: "optout",
        to: "+15550001111",
      }),
      expect.objectContaining({ providerMessageId: "wamid.B", text: "" }),
    ]);
    expect(msgs[0]!.sentAt?.toISOString()).toBe(new Date(1764300000 * 1000).toISOString());
  });
});

describe("inbound helpers", () => {
  it("makes text storable: no NUL, no lone surrogates, bounded", () => {
    expect(storableText("STOP\u0000")).toBe("STOP");
    expect(storableText("a\ud800b")).toBe("a\ufffdb");
    expect(storableText("😀")).toBe("😀");
    expect(storableText("x".repeat(5000))).toHaveLength(2000);
  });

  it("starts the 5 minutes when the person sent the STOP, never in the future", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    expect(confirmationDeadline(new Date(now - 60_000), now).toISOString()).toBe(
      "2026-11-28T12:04:00.000Z",
    );
    expect(confirmationDeadline(new Date(now + 600_000), now).toISOString()).toBe(
      "2026-11-28T12:05:00.000Z",
    );
    expect(confirmationDeadline(null, now).toISOString()).toBe("2026-11-28T12:05:00.000Z");
  });
});
