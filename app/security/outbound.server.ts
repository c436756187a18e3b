import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import ipaddr from "ipaddr.js";

/**
 * The SSRF guard for every request Heed makes to a URL that someone else chose (webhook
 * endpoints today; scheduled data-source fetches can use the same door):
 *
 * - `checkOutboundUrl(url)`: scheme, no credentials, and every address the host resolves to is
 *   a public unicast internet address. Call it when the URL is registered and for every redirect
 *   hop before following it.
 * - `publicLookup(policy)`: a `lookup` for node:http(s) that refuses non-public addresses at
 *   connection time, so a DNS answer that changes between the check and the connection (DNS
 *   rebinding) cannot reach an internal host: the address connected to is the one checked.
 * - `requestPublic(url, options)`: one request through both, with a total deadline and a capped
 *   response body; redirects are not followed unless `maxRedirects` says so, and then each hop is
 *   checked like the first URL.
 *
 * Which addresses are public comes from ipaddr.js's range names (the IANA special-purpose
 * registries, kept up to date by that library) rather than a list kept here: only `unicast` is
 * allowed. IPv6 forms that carry an IPv4 address inside (IPv4-mapped, IPv4-translated, the NAT64
 * prefixes, 6to4, Teredo) are judged by the IPv4 inside as well.
 */

export type OutboundPolicy = {
  /**
   * Addresses to allow although they are not public: `true` allows every address (the
   * WEBHOOKS_ALLOW_PRIVATE switch for internal receivers), a function allows the addresses it
   * returns true for (an allowlist). Default: only public addresses.
   */
  allowPrivate?: boolean | ((address: string) => boolean);
};

export class SsrfError extends Error {
  readonly code = "ESSRF";
  constructor(message: string) {
    super(message);
    this.name = "SsrfError";
  }
}

const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

function describeV4(v4: ipaddr.IPv4): string | null {
  const range = v4.range();
  return range === "unicast" ? null : `${v4.toString()} (${range})`;
}

/**
 * Why `ip` is not a public unicast internet address, or null when it is. Anything that is not an
 * IP address literal is refused.
 */
export function nonPublicReason(ip: string): string | null {
  const bare = ip.replace(/^\[|\]$/g, "").split("%")[0]!;
  const family = net.isIP(bare);
  if (!family) return `${ip} is not an IP address`;
  if (family === 4) return describeV4(ipaddr.IPv4.parse(bare));

  // ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d`; the WHATWG URL serializer writes every IPv6
  // address in its canonical hex form first, so the bytes judged are the bytes connected to.
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const v6 = ipaddr.IPv6.parse(canonical);
  const bytes = v6.toByteArray();
  const lastV4 = new ipaddr.IPv4(bytes.slice(12, 16));
  const range = v6.range();
  // ::/96 beyond :: and ::1 is the deprecated IPv4-compatible form, which ipaddr.js calls unicast.
  if (bytes.slice(0, 12).every((b) => b === 0) && range !== "unspecified" && range !== "loopback") {
    return `${canonical} (deprecated IPv4-compatible form of ${lastV4.toString()})`;
  }
  switch (range) {
    // The network hands these to the IPv4 address in their last 32 bits.
    case "ipv4Mapped": {
      const inner = describeV4(lastV4);
      return inner ? `${canonical} maps to ${inner}` : null;
    }
    case "rfc6145": {
      const inner = describeV4(lastV4);
      return inner ? `${canonical} translates to ${inner}` : null;
    }
    case "rfc6052": {
      const inner = describeV4(lastV4);
      if (inner) return `${canonical} (NAT64) translates to ${inner}`;
      // 64:ff9b:1::/48 is for an operator's own translators (RFC 8215): where the IPv4 address
      // sits depends on their prefix length, so it cannot be judged; it is never a public host.
      return v6.match(NAT64_WELL_KNOWN) ? null : `${canonical} (local-use NAT64 prefix)`;
    }
    // Tunnels: never a webhook receiver's address; the reason names what they carry.
    case "6to4": {
      const inner = new ipaddr.IPv4(bytes.slice(2, 6));
      return `${canonical} (6to4 tunnel to ${inner.toString()}, ${inner.range()})`;
    }
    case "teredo": {
      const server = new ipaddr.IPv4(bytes.slice(4, 8));
      const client = new ipaddr.IPv4(bytes.slice(12, 16).map((b) => b ^ 0xff));
      return `${canonical} (Teredo tunnel via ${server.toString()} to ${client.toString()}, ${client.range()})`;
    }
    case "unicast":
      return null;
    default:
      return `${canonical} (${range})`;
  }
}

export function isPublicAddress(ip: string): boolean {
  return nonPublicReason(ip) === null;
}

function allowed(address: string, policy: OutboundPolicy): boolean {
  const p = policy.allowPrivate;
  if (p === true) return true;
  if (typeof p === "function" && p(address)) return true;
  return isPublicAddress(address);
}

/** Names that always mean this machine (RFC 6761), refused before any resolver is asked. */
function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return h === "localhost" || h.endsWith(".localhost");
}

type LookupAddress = { address: string; family: number };

/** Every address a host name resolves to (an IP literal resolves to itself). */
export async function resolveHost(hostname: string): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, "");
  const family = net.isIP(host);
  if (family) return [{ address: host, family }];
  return dns.promises.lookup(host, { all: true, verbatim: true });
}

function refusal(hostname: string, list: LookupAddress[], policy: OutboundPolicy): string | null {
  if (list.length === 0) return `${hostname} resolves to no address`;
  const bad = list.find((a) => !allowed(a.address, policy));
  if (!bad) return null;
  const why = nonPublicReason(bad.address) ?? bad.address;
  return `${hostname} resolves to a private or reserved address: ${why}`;
}

/** Throws SsrfError when the host is, or resolves to, any address the policy does not allow. */
export async function assertPublicHost(hostname: string, policy: OutboundPolicy): Promise<void> {
  if (policy.allowPrivate === true) return;
  if (isLocalhostName(hostname)) {
    throw new SsrfError(`${hostname} is a name of this machine (private or reserved address)`);
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolveHost(hostname);
  } catch (e) {
    throw new SsrfError(
      `cannot resolve ${hostname} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const why = refusal(hostname, addresses, policy);
  if (why) throw new SsrfError(why);
}

/**
 * A `lookup` for node:http(s) and net.connect that refuses addresses the policy does not allow,
 * at connection time. (IP literals never reach a lookup: check them with assertPublicHost.)
 */
export function publicLookup(policy: OutboundPolicy): net.LookupFunction {
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
      const why = policy.allowPrivate === true ? null : refusal(hostname, list, policy);
      if (why) return callback(new SsrfError(why) as Error as NodeJS.ErrnoException, "");
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as unknown as net.LookupFunction;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Validates a URL that Heed will call: http(s) (https only when `requireHttps`), no user name or
 * password, no fragment, at most 2,000 characters, and a host that resolves only to addresses the
 * policy allows. Decimal, octal and hex IPv4 spellings (`http://2130706433/`, `http://0x7f.1/`)
 * are read by the WHATWG URL parser as the dotted address they mean, and judged as such.
 */
export async function checkOutboundUrl(
  raw: string | URL,
  options: OutboundPolicy & { requireHttps: boolean },
): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(typeof raw === "string" ? raw.trim() : raw.toString());
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
    await assertPublicHost(url.hostname, options);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return { ok: true, url };
}

export type PublicRequestOptions = OutboundPolicy & {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Deadline for the whole exchange (connect, send, read the answer), per hop. */
  timeoutMs: number;
  /** Bytes of the answer kept; the connection is closed past this (`truncated`). */
  maxResponseBytes?: number;
  /** Redirects to follow, each hop checked like the first URL. Default 0: a 3xx is the answer. */
  maxRedirects?: number;
  /** Refuse http:// hops (the first URL too). */
  requireHttps?: boolean;
};

export type PublicResponse = {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
  /** The URL that gave this answer (after redirects). */
  url: URL;
};

function once(
  url: URL,
  options: PublicRequestOptions,
  method: string,
  body: string | Buffer | undefined,
): Promise<PublicResponse> {
  const lib = url.protocol === "https:" ? https : http;
  const max = options.maxResponseBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
    const req = lib.request(url, {
      method,
      headers,
      lookup: publicLookup(options),
      agent: false,
    });
    const deadline = setTimeout(
      () => req.destroy(new Error(`timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const done = (fn: () => void) => {
      clearTimeout(deadline);
      fn();
    };
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const finish = () =>
        done(() =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
            url,
          }),
        );
      res.on("data", (c: Buffer) => {
        if (truncated) return;
        const room = max - size;
        if (c.length > room) {
          chunks.push(c.subarray(0, room));
          size = max;
          truncated = true;
          finish();
          res.destroy();
          return;
        }
        chunks.push(c);
        size += c.length;
      });
      res.on("end", () => {
        if (!truncated) finish();
      });
      res.on("error", (e) => {
        if (!truncated) done(() => reject(e));
      });
    });
    req.on("error", (e) => done(() => reject(e)));
    req.end(body);
  });
}

/**
 * Makes one request to a URL someone else chose, through the guard: the URL (and every redirect
 * hop, when `maxRedirects` > 0) is checked before connecting, and the connection itself only
 * reaches allowed addresses. Rejects with SsrfError when refused.
 */
export async function requestPublic(
  raw: string | URL,
  options: PublicRequestOptions,
): Promise<PublicResponse> {
  let method = (options.method ?? "GET").toUpperCase();
  let body = options.body;
  let target = raw;
  for (let hop = 0; ; hop++) {
    const checked = await checkOutboundUrl(target, {
      ...options,
      requireHttps: options.requireHttps ?? false,
    });
    if (!checked.ok) throw new SsrfError(`${hop === 0 ? "" : "redirect: "}${checked.reason}`);
    const res = await once(checked.url, options, method, body);
    const location = res.headers.location;
    const redirect = [301, 302, 303, 307, 308].includes(res.status) && location;
    if (!redirect || hop >= (options.maxRedirects ?? 0)) return res;
    target = new URL(location, checked.url);
    // 303 (and, as browsers do, 301/302 after a POST) continue as a GET without a body.
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
    }
  }
}
