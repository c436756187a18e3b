import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkOutboundUrl,
  isPublicAddress,
  nonPublicReason,
  publicLookup,
  requestPublic,
  SsrfError,
} from "~/security/outbound.server";
import { HOSTILE_URLS, PUBLIC_URLS } from "../hostile-urls";

/**
 * The SSRF guard that every request to a URL chosen by someone else goes through (webhook
 * endpoints; reusable for other fetches): hostile spellings of internal addresses, IPv6 forms
 * that carry an internal IPv4 address, names of this machine, redirects, and the connection-time
 * check that defeats DNS rebinding.
 */

describe("which addresses are public", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.5.4", "private"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"],
    ["192.0.2.1", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fe80::1", "linkLocal"],
    ["fd00:ec2::254", "uniqueLocal"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["::ffff:127.0.0.1", "127.0.0.1 (loopback)"],
    ["::ffff:7f00:1", "127.0.0.1 (loopback)"],
    ["::ffff:0:7f00:1", "127.0.0.1 (loopback)"],
    ["::ffff:a9fe:a9fe", "169.254.169.254 (linkLocal)"],
    ["64:ff9b::7f00:1", "127.0.0.1 (loopback)"],
    ["64:ff9b:1::7f00:1", "127.0.0.1 (loopback)"],
    ["64:ff9b:1::808:808", "local-use NAT64"],
    ["2002:7f00:1::1", "6to4 tunnel to 127.0.0.1"],
    ["2002:808:808::1", "6to4 tunnel to 8.8.8.8"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"],
    ["::127.0.0.1", "IPv4-compatible form of 127.0.0.1"],
    ["::7f00:1", "IPv4-compatible form of 127.0.0.1"],
    ["::8.8.8.8", "IPv4-compatible form of 8.8.8.8"],
    ["fe80::1%eth0", "linkLocal"],
    ["example.com", "not an IP address"],
  ])("%s is not public (%s)", (ip, why) => {
    expect(isPublicAddress(ip)).toBe(false);
    expect(nonPublicReason(ip)).toContain(why);
  });

  it.each([
    "93.184.215.14",
    "8.8.8.8",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "[2606:4700:4700::1111]",
  ])("%s is public", (ip) => {
    expect(nonPublicReason(ip)).toBeNull();
  });
});

describe("checkOutboundUrl", () => {
  it.each(HOSTILE_URLS)("refuses %s (%s)", async (url, why) => {
    const r = await checkOutboundUrl(url, { requireHttps: false });
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toMatch(why);
  });

  it.each(PUBLIC_URLS)("accepts %s", async (url) => {
    expect(await checkOutboundUrl(url, { requireHttps: true })).toMatchObject({ ok: true });
  });

  it("refuses http:// when https is required, and allows private addresses only when told to", async () => {
    expect(await checkOutboundUrl("http://93.184.215.14/", { requireHttps: true })).toEqual({
      ok: false,
      reason: "must be an https:// URL",
    });
    const local = "http://127.0.0.1:9/hook";
    expect(
      await checkOutboundUrl(local, { requireHttps: false, allowPrivate: true }),
    ).toMatchObject({ ok: true });
    const only127 = (ip: string) => ip === "127.0.0.1";
    expect(
      await checkOutboundUrl(local, { requireHttps: false, allowPrivate: only127 }),
    ).toMatchObject({ ok: true });
    expect(
      await checkOutboundUrl("http://10.0.0.1/", { requireHttps: false, allowPrivate: only127 }),
    ).toMatchObject({ ok: false });
  });
});

describe("requests through the guard", () => {
  let hits: string[] = [];
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      if (req.url === "/to-metadata") {
        res.writeHead(302, { Location: "http://169.254.169.254/latest/meta-data/" }).end();
      } else if (req.url === "/to-localhost") {
        res.writeHead(301, { Location: `http://localhost:${port}/inside` }).end();
      } else if (req.url === "/to-mapped") {
        res.writeHead(307, { Location: `http://[::ffff:7f00:1]:${port}/inside` }).end();
      } else if (req.url === "/to-self") {
        res.writeHead(303, { Location: "/landing" }).end();
      } else if (req.url === "/big") {
        res.writeHead(200);
        res.end("x".repeat(100_000));
      } else res.writeHead(200).end("fine");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  const base = () => `http://127.0.0.1:${port}`;
  // The test server is on loopback: allow exactly that address, nothing else internal.
  const only127 = { allowPrivate: (ip: string) => ip === "127.0.0.1", timeoutMs: 5000 };

  it("does not follow redirects unless asked: the 3xx is the answer", async () => {
    hits = [];
    const res = await requestPublic(`${base()}/to-metadata`, only127);
    expect(res.status).toBe(302);
    expect(hits).toEqual(["/to-metadata"]);
  });

  it.each(["/to-metadata", "/to-localhost", "/to-mapped"])(
    "checks every redirect hop before connecting (%s is refused)",
    async (path) => {
      hits = [];
      await expect(
        requestPublic(`${base()}${path}`, { ...only127, maxRedirects: 3 }),
      ).rejects.toThrow(SsrfError);
      expect(hits).toEqual([path]);
    },
  );

  it("follows an allowed redirect hop (303 continues as a GET) and caps the answer", async () => {
    hits = [];
    const res = await requestPublic(`${base()}/to-self`, {
      ...only127,
      method: "POST",
      body: "x=1",
      maxRedirects: 3,
    });
    expect(res.status).toBe(200);
    expect(res.url.pathname).toBe("/landing");
    expect(hits).toEqual(["/to-self", "/landing"]);
    const big = await requestPublic(`${base()}/big`, { ...only127, maxResponseBytes: 1000 });
    expect(big).toMatchObject({ status: 200, truncated: true });
    expect(big.body.length).toBe(1000);
  });

  it("refuses at connection time a name that resolves to an internal address (DNS rebinding)", async () => {
    hits = [];
    // The name was fine when it was checked; now it resolves to loopback. The connection asks the
    // guarded lookup, which refuses before any byte is sent.
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const req = http.request(
        { host: "localhost", port, path: "/inside", lookup: publicLookup({}), agent: false },
        () => resolve(new Error("connected") as NodeJS.ErrnoException),
      );
      req.on("error", (e) => resolve(e as NodeJS.ErrnoException));
      req.end();
    });
    expect(err).toBeInstanceOf(SsrfError);
    expect(err.code).toBe("ESSRF");
    expect(err.message).toMatch(/localhost resolves to a private or reserved address/);
    expect(hits).toEqual([]);
  });
});
