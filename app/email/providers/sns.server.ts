import crypto from "node:crypto";
import https from "node:https";
import { z } from "zod";
import { getEnv } from "~/env.server";

/**
 * Amazon SNS message signatures (how Amazon SES posts its events), checked as AWS documents them:
 *
 * - the string to sign is built from the message's own fields, in a fixed order (Message,
 *   MessageId, Subject if present, Timestamp, TopicArn, Type for a notification; Message,
 *   MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type for the subscription messages);
 * - SignatureVersion 1 is RSA with SHA-1, 2 is RSA with SHA-256, base64;
 * - the certificate comes only from an HTTPS URL on `sns.<region>.amazonaws.com` (or
 *   `.amazonaws.com.cn`), path `*.pem`, is fetched over TLS verified against the system's CAs,
 *   must be the SNS signing certificate (CN sns.amazonaws.com) and in its validity period, and is
 *   cached per URL (they rotate rarely);
 * - only topics listed in SES_SNS_TOPIC_ARNS are accepted: anyone can create a topic in their own
 *   AWS account and have SNS sign messages for it.
 *
 * SNS signs fields inside the JSON body, so the body is parsed as JSON to read them; nothing in
 * it is acted upon before the signature is good. No AWS SDK is used: only the signature check is
 * needed, and it is a few lines of node:crypto.
 */

export const SnsEnvelope = z.object({
  Type: z.enum(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]),
  MessageId: z.string().min(1).max(200),
  TopicArn: z.string().min(1).max(300),
  Message: z.string(),
  Timestamp: z.string().min(1).max(64),
  SignatureVersion: z.enum(["1", "2"]),
  Signature: z.string().min(1).max(2000),
  SigningCertURL: z.string().min(1).max(500),
  Subject: z.string().optional(),
  Token: z.string().max(2000).optional(),
  SubscribeURL: z.string().max(2000).optional(),
});
export type SnsEnvelope = z.infer<typeof SnsEnvelope>;

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Whether a URL is one SNS serves certificates and subscription confirmations from. */
export function isSnsUrl(value: string, kind: "cert" | "subscribe"): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || url.port !== "" || url.username || url.password) return false;
  if (!SNS_HOST.test(url.hostname)) return false;
  return kind === "subscribe" || url.pathname.endsWith(".pem");
}

export function stringToSign(m: SnsEnvelope): string {
  const keys =
    m.Type === "Notification"
      ? [
          "Message",
          "MessageId",
          ...(m.Subject !== undefined ? ["Subject"] : []),
          "Timestamp",
          "TopicArn",
          "Type",
        ]
      : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  return keys.map((k) => `${k}\n${(m as Record<string, string | undefined>)[k] ?? ""}\n`).join("");
}

export function allowedTopics(): Set<string> {
  return new Set(
    (getEnv().SES_SNS_TOPIC_ARNS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

// ---------------------------------------------------------------------------------------------
// Fetching from SNS (certificates, subscription confirmations)

type TestTrust = { ca: string | Buffer; connectHost: string; connectPort: number };
let testTrust: TestTrust | null = null;

/**
 * Tests only: connect to a local HTTPS server (trusted through `ca`) instead of the SNS host the
 * URL names. The URL checks above still apply unchanged, and the TLS certificate is still
 * verified for that SNS host name. Refused outside NODE_ENV=test, so production cannot use it.
 */
export function setSnsTestTrust(trust: TestTrust | null): void {
  if (getEnv().NODE_ENV !== "test") throw new Error("setSnsTestTrust is for tests only");
  testTrust = trust;
  certCache.clear();
}

const MAX_FETCH_BYTES = 64 * 1024;

function httpsGet(value: string): Promise<{ status: number; body: string }> {
  const url = new URL(value);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method: "GET",
        host: testTrust ? testTrust.connectHost : url.hostname,
        port: testTrust ? testTrust.connectPort : 443,
        servername: url.hostname,
        path: `${url.pathname}${url.search}`,
        headers: { Host: url.hostname, "User-Agent": "Heed-SNS/1.0" },
        ...(testTrust ? { ca: testTrust.ca } : {}),
        timeout: 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_FETCH_BYTES) req.destroy(new Error("response too large"));
          else chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const certCache = new Map<string, { key: crypto.KeyObject; until: number }>();
const CERT_CACHE_MS = 24 * 60 * 60 * 1000;

async function signingKey(certUrl: string): Promise<crypto.KeyObject> {
  const hit = certCache.get(certUrl);
  if (hit && hit.until > Date.now()) return hit.key;
  const res = await httpsGet(certUrl);
  if (res.status !== 200) throw new Error(`certificate fetch answered ${res.status}`);
  const cert = new crypto.X509Certificate(res.body);
  if (!/(^|\n)CN=sns\.amazonaws\.com(\n|$)/.test(cert.subject)) {
    throw new Error("not the SNS signing certificate");
  }
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) {
    throw new Error("the certificate is not valid now");
  }
  if (certCache.size >= 50) certCache.clear();
  certCache.set(certUrl, {
    key: cert.publicKey,
    until: Math.min(now + CERT_CACHE_MS, Date.parse(cert.validTo)),
  });
  return cert.publicKey;
}

export type SnsVerification = { ok: true } | { ok: false; reason: string };

/** Verifies an SNS message's signature (see the top of this file). Never throws. */
export async function verifySnsMessage(m: SnsEnvelope): Promise<SnsVerification> {
  if (!isSnsUrl(m.SigningCertURL, "cert"))
    return { ok: false, reason: "untrusted certificate URL" };
  let key: crypto.KeyObject;
  try {
    key = await signingKey(m.SigningCertURL);
  } catch (e) {
    return { ok: false, reason: `certificate: ${(e as Error).message}` };
  }
  const ok = crypto.verify(
    m.SignatureVersion === "1" ? "RSA-SHA1" : "RSA-SHA256",
    Buffer.from(stringToSign(m), "utf8"),
    key,
    Buffer.from(m.Signature, "base64"),
  );
  return ok ? { ok: true } : { ok: false, reason: "bad signature" };
}

/** Confirms a subscription by visiting its SubscribeURL (an SNS URL, checked like the certificate's). */
export async function confirmSubscription(subscribeUrl: string): Promise<boolean> {
  if (!isSnsUrl(subscribeUrl, "subscribe")) return false;
  const res = await httpsGet(subscribeUrl);
  return res.status === 200;
}
