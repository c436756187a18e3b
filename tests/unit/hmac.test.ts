import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { hmacSha256, hmacSha256Base64urlInto, PrefixedHmacSha256 } from "~/consent/hmac.server";

// app/consent/hmac.server.ts computes HMAC-SHA256 itself (from precomputed pad states): it must
// give exactly what node:crypto gives, for every message length around the block boundaries,
// for ASCII and non-ASCII input, and for keys shorter than, as long as and longer than a block.
const reference = (key: string | Uint8Array, message: string) =>
  crypto.createHmac("sha256", key).update(message, "utf8").digest("base64url");

const KEYS: (string | Uint8Array)[] = [
  "",
  "k",
  "bench-address-hash-key-0123456789abcdef01234567",
  "x".repeat(64),
  "y".repeat(65),
  "ключ-🔑-".repeat(10),
  crypto.randomBytes(32),
  crypto.randomBytes(100),
];

describe("hmacSha256", () => {
  it("matches node:crypto for every length from 0 to 300 bytes, ASCII and not", () => {
    for (const key of KEYS) {
      const mac = hmacSha256(key);
      for (let n = 0; n <= 300; n++) {
        const ascii = "abcdefghijklmnopqrstuvwxyz0123456789@.+-_".repeat(8).slice(0, n);
        expect(mac(ascii)).toBe(reference(key, ascii));
        const mixed = `${"é".repeat(n % 7)}${ascii.slice(0, Math.max(0, n - 10))}ž😀`;
        expect(mac(mixed)).toBe(reference(key, mixed));
      }
    }
  });

  it("matches node:crypto for random strings, and a long one after short ones", () => {
    const key = crypto.randomBytes(48).toString("base64");
    const mac = hmacSha256(key);
    for (let i = 0; i < 2000; i++) {
      const s = crypto.randomBytes(i % 97).toString(i % 2 ? "base64url" : "latin1");
      expect(mac(s)).toBe(reference(key, s));
    }
    const long = "z".repeat(100_000);
    expect(mac(long)).toBe(reference(key, long));
    expect(mac("after")).toBe(reference(key, "after"));
  });

  it("keeps one key's state apart from another's", () => {
    const a = hmacSha256("key-a");
    const b = hmacSha256("key-b");
    expect(a("m")).toBe(reference("key-a", "m"));
    expect(b("m")).toBe(reference("key-b", "m"));
    expect(a("m")).not.toBe(b("m"));
  });
});

describe("PrefixedHmacSha256", () => {
  const referenceBytes = (key: string | Uint8Array, message: Uint8Array) =>
    crypto.createHmac("sha256", key).update(message).digest();

  it("matches node:crypto for every length 0–300, with and without the shared prefix, at any offset", () => {
    for (const key of KEYS) {
      for (const prefixLength of [0, 63, 64, 65, 130]) {
        const prefix = crypto.randomBytes(prefixLength);
        const hmac = new PrefixedHmacSha256(key, prefix);
        const out = Buffer.alloc(40);
        for (let n = 0; n <= 300; n += n < 140 ? 1 : 7) {
          // The message sits inside a larger buffer, after some other bytes.
          const offset = n % 5;
          const buf = crypto.randomBytes(offset + n + 3);
          const withPrefix = Buffer.from(buf);
          prefix.copy(withPrefix, offset, 0, Math.min(prefixLength, n));
          for (const b of [buf, withPrefix]) {
            hmac.mac(b, offset, offset + n, out, 8);
            expect(out.subarray(8, 40)).toEqual(
              referenceBytes(key, b.subarray(offset, offset + n)),
            );
          }
        }
      }
    }
  });

  it("hashes a message that differs from the prefix in its last shared byte from the start", () => {
    const key = crypto.randomBytes(32);
    const prefix = Buffer.from("p".repeat(64) + "q".repeat(64));
    const hmac = new PrefixedHmacSha256(key, prefix);
    const out = Buffer.alloc(32);
    const message = Buffer.from("p".repeat(64) + "q".repeat(63) + "X" + "tail of the message");
    hmac.mac(message, 0, message.length, out, 0);
    expect(out).toEqual(referenceBytes(key, message));
    const same = Buffer.from("p".repeat(64) + "q".repeat(64) + "tail");
    hmac.mac(same, 0, same.length, out, 0);
    expect(out).toEqual(referenceBytes(key, same));
  });
});

describe("hmacSha256Base64urlInto", () => {
  it("writes exactly hmacSha256's text at the offset, and nothing around it", () => {
    for (const key of KEYS) {
      const mac = hmacSha256(key);
      const into = hmacSha256Base64urlInto(key);
      const out = Buffer.alloc(43 + 20, 0x2a);
      for (let n = 0; n <= 300; n++) {
        const ascii = "abcdefghijklmnopqrstuvwxyz0123456789@.+-_".repeat(8).slice(0, n);
        const mixed = `${"é".repeat(n % 7)}${ascii.slice(0, Math.max(0, n - 10))}ž😀`;
        for (const message of [ascii, mixed]) {
          const at = n % 20;
          out.fill(0x2a);
          into(message, out, at);
          expect(out.toString("latin1", at, at + 43)).toBe(mac(message));
          expect(out.subarray(0, at).every((b) => b === 0x2a)).toBe(true);
          expect(out.subarray(at + 43).every((b) => b === 0x2a)).toBe(true);
        }
      }
    }
  });

  it("matches node:crypto for random strings, one after another into one buffer", () => {
    const key = crypto.randomBytes(40);
    const into = hmacSha256Base64urlInto(key);
    const messages = Array.from({ length: 2000 }, (_, i) =>
      crypto.randomBytes(i % 97).toString(i % 2 ? "base64url" : "latin1"),
    );
    const out = Buffer.alloc(messages.length * 44);
    messages.forEach((m, i) => {
      into(m, out, i * 44);
      out[i * 44 + 43] = 0x2c;
    });
    expect(out.toString("latin1", 0, out.length - 1).split(",")).toEqual(
      messages.map((m) => reference(key, m)),
    );
  });
});
