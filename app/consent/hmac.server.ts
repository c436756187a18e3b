import crypto from "node:crypto";

/**
 * HMAC-SHA256 of many short strings under one key, for the hot paths that hash thousands of them
 * per request: the send check and the links batch (an address hash for each recipient), an
 * import (an address hash for each row), the links batch again (two token signatures per link).
 *
 * Why not crypto.createHmac per string: creating the Hmac object is most of its cost (about 2 µs,
 * measured in a send check of 10,000 addresses: 18 ms of hashing), and HMAC itself needs no object.
 * HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)); the states after the two pad blocks depend only
 * on the key, so they are computed once, and each string then costs one SHA-256 compression per
 * 64 bytes of it (one for an address) plus one for the outer hash: about half the time
 * (docs/decisions/0095-send-check-hashing-and-covering-key.md).
 *
 * The compression is FIPS 180-4 SHA-256 in 32-bit integer arithmetic (no table lookups indexed
 * by secret data, so no cache timing); tests/unit/hmac.test.ts checks it against node:crypto for
 * every length and for ASCII and non-ASCII input. Strings with a non-ASCII character are encoded
 * as UTF-8 first (what node:crypto does with a string).
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

// Scratch space, reused by every call (hashing is synchronous, so calls never interleave).
const W = new Int32Array(64);
const H = new Int32Array(8);
let bytes = new Uint8Array(256);
let words = new Int32Array(64);
const digestBytes = Buffer.alloc(32);
const encoder = new TextEncoder();

/** One SHA-256 compression of `words[offset..offset+16)` into `state`. */
function compress(state: Int32Array, m: Int32Array, offset: number): void {
  for (let i = 0; i < 16; i++) W[i] = m[offset + i]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + s0 + maj) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** The state after one 64-byte block (a pad block of the key). */
function midstate(block: Uint8Array): Int32Array {
  const state = IV.slice();
  const m = new Int32Array(16);
  for (let i = 0; i < 16; i++) {
    m[i] =
      (block[i * 4]! << 24) |
      (block[i * 4 + 1]! << 16) |
      (block[i * 4 + 2]! << 8) |
      block[i * 4 + 3]!;
  }
  compress(state, m, 0);
  return state;
}

/** Copies `s` into `bytes` as UTF-8 (ASCII directly); returns its length in bytes. */
function encode(s: string): number {
  const n = s.length;
  if (bytes.length < n * 3 + 72) {
    bytes = new Uint8Array(n * 3 + 136);
    words = new Int32Array(bytes.length >> 2);
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encodeInto(s, bytes).written;
    bytes[i] = c;
  }
  return n;
}

export type Hmac = {
  /** HMAC-SHA256 of the string (UTF-8), base64url: what createHmac(…).update(s).digest("base64url") gives. */
  (message: string): string;
};

/** An HMAC-SHA256 function for one key (a string, used as UTF-8 like crypto.createHmac does). */
export function hmacSha256(key: string | Uint8Array): Hmac {
  let k: Uint8Array = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  if (k.length > 64) k = crypto.createHash("sha256").update(k).digest();
  const ipad = new Uint8Array(64).fill(0x36);
  const opad = new Uint8Array(64).fill(0x5c);
  for (let i = 0; i < k.length; i++) {
    ipad[i]! ^= k[i]!;
    opad[i]! ^= k[i]!;
  }
  const inner = midstate(ipad);
  const outer = midstate(opad);
  return (message: string): string => {
    const n = encode(message);
    // Padding: 0x80, zeros, then the bit length of (pad block + message) in the last 8 bytes.
    const blocks = ((n + 8) >>> 6) + 1;
    const end = blocks * 64;
    bytes[n] = 0x80;
    bytes.fill(0, n + 1, end - 4);
    const bits = (64 + n) * 8; // below 2^32 for any string this is used with
    bytes[end - 4] = bits >>> 24;
    bytes[end - 3] = (bits >>> 16) & 0xff;
    bytes[end - 2] = (bits >>> 8) & 0xff;
    bytes[end - 1] = bits & 0xff;
    for (let i = 0, j = 0; i < blocks * 16; i++, j += 4) {
      words[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    }
    H.set(inner);
    for (let b = 0; b < blocks; b++) compress(H, words, b * 16);
    // Outer hash: the inner digest (32 bytes) plus padding is exactly one block.
    for (let i = 0; i < 8; i++) words[i] = H[i]!;
    words[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) words[i] = 0;
    words[15] = (64 + 32) * 8;
    H.set(outer);
    compress(H, words, 0);
    for (let i = 0; i < 8; i++) {
      const v = H[i]!;
      digestBytes[i * 4] = v >>> 24;
      digestBytes[i * 4 + 1] = (v >>> 16) & 0xff;
      digestBytes[i * 4 + 2] = (v >>> 8) & 0xff;
      digestBytes[i * 4 + 3] = v & 0xff;
    }
    return digestBytes.toString("base64url");
  };
}
