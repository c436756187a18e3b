import dns from "node:dns";
import net from "node:net";

/**
 * SSRF guard for outbound webhooks: endpoint URLs that resolve to private, loopback, link-local
 * or otherwise non-public addresses are refused (unless WEBHOOKS_ALLOW_PRIVATE=1), when an
 * endpoint is registered AND when each delivery connects (the connection uses the address that
 * was checked, so DNS rebinding between check and connect does not help).
 */

type Cidr = { bytes: number[]; bits: number };

function ipv4Bytes(ip: string): number[] | null {
  if (!net.isIPv4(ip)) return null;
  return ip.split(".").map(Number);
}

/** 16 bytes of an IPv6 address (with an optional embedded dotted IPv4 tail), or null. */
export function ipv6Bytes(ip: string): number[] | null {
  const addr = ip.split("%")[0]!; // zone id
  if (!net.isIPv6(addr)) return null;
  let head = addr;
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (dotted) {
    tail = ipv4Bytes(dotted[1]!)!;
    head = addr.slice(0, -dotted[1]!.length);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const words = (s: string | undefined) => (s ? s.split(":").filter((w) => w !== "") : []);
  const l = words(left);
  const r = words(right);
  const groups = 8 - tail.length / 2;
  const fill = right === undefined ? 0 : groups - l.length - r.length;
  const all = [...l, ...new Array(fill).fill("0"), ...r];
  if (all.length !== groups) return null;
  const bytes: number[] = [];
  for (const w of all) {
    const v = parseInt(w, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  return [...bytes, ...tail];
}

function cidr(spec: string): Cidr {
  const [ip, bits] = spec.split("/") as [string, string];
  return { bytes: (ipv4Bytes(ip) ?? ipv6Bytes(ip))!, bits: Number(bits) };
}

function inCidr(bytes: number[], c: Cidr): boolean {
  if (bytes.length !== c.bytes.length) return false;
  let bits = c.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (c.bytes[i]! & mask)) return false;
  }
  return true;
}

// IANA special-purpose registries: nothing here is a public internet host.
const BLOCKED_V4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map(cidr);

const BLOCKED_V6 = [
  "::/128",
  "::1/128",
  "100::/64",
  "2001::/23",
  "2001:db8::/32",
  "2002::/16",
  "fc00::/7",
  "fe80::/10",
  "fec0::/10",
  "ff00::/8",
].map(cidr);

/** True for any address that is not a public unicast internet address. */
export function isPrivateAddress(ip: string): boolean {
  const v4 = ipv4Bytes(ip);
  if (v4) return BLOCKED_V4.some((c) => inCidr(v4, c));
  const v6 = ipv6Bytes(ip);
  if (!v6) return true; // not an IP at all: refuse
  const first10Zero = v6.slice(0, 10).every((b) => b === 0);
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96): judge the IPv4 inside.
  if (first10Zero && ((v6[10] === 0xff && v6[11] === 0xff) || (v6[10] === 0 && v6[11] === 0))) {
    return BLOCKED_V4.some((c) => inCidr(v6.slice(12), c)) || v6.slice(12).every((b) => b === 0);
  }
  if (inCidr(v6, cidr("64:ff9b::/96"))) return BLOCKED_V4.some((c) => inCidr(v6.slice(12), c));
  return BLOCKED_V6.some((c) => inCidr(v6, c));
}

export class SsrfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SsrfError";
  }
}

type LookupAddress = { address: string; family: number };

/** Every address a host name resolves to (an IP literal resolves to itself). */
export async function resolveHost(hostname: string): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, "");
  const family = net.isIP(host);
  if (family) return [{ address: host, family }];
  return dns.promises.lookup(host, { all: true, verbatim: true });
}

/** Throws SsrfError when the host resolves to any non-public address (and private is not allowed). */
export async function assertPublicHost(hostname: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  let addresses: LookupAddress[];
  try {
    addresses = await resolveHost(hostname);
  } catch (e) {
    throw new SsrfError(
      `cannot resolve ${hostname} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad || addresses.length === 0) {
    throw new SsrfError(
      `${hostname} resolves to a private or reserved address${bad ? ` (${bad.address})` : ""}`,
    );
  }
}

/**
 * A `lookup` for node:http(s) that refuses private addresses at connection time, so the address
 * connected to is the one that was checked.
 */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return ((
    hostname: string,
    options: dns.LookupOptions,
    callback: (
      err: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ) => {
    dns.lookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, "");
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => isPrivateAddress(a.address));
      if (!allowPrivate && (bad || list.length === 0)) {
        const e = new SsrfError(
          `${hostname} resolves to a private or reserved address${bad ? ` (${bad.address})` : ""}`,
        ) as Error as NodeJS.ErrnoException;
        e.code = "ESSRF";
        return callback(e, "");
      }
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as unknown as net.LookupFunction;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Validates a webhook endpoint URL at registration. */
export async function checkWebhookUrl(
  raw: string,
  options: { allowPrivate: boolean; requireHttps: boolean },
): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && !options.requireHttps)) {
    return {
      ok: false,
      reason: options.requireHttps ? "must be an https:// URL" : "must be an http(s):// URL",
    };
  }
  if (url.username || url.password)
    return { ok: false, reason: "must not contain a user name or password" };
  if (url.hash) return { ok: false, reason: "must not contain a #fragment" };
  if (url.toString().length > 2000) return { ok: false, reason: "is too long" };
  try {
    await assertPublicHost(url.hostname, options.allowPrivate);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return { ok: true, url };
}
