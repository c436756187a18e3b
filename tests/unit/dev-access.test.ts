import { describe, expect, it } from "vitest";
import { isLoopbackAddress, isLoopbackClient } from "~/http/dev-access.server";
import { isLoopbackHost } from "~/boot/boot.server";

/** Issue 11.8: the development pages are for this machine (or a logged-in admin) only. */
describe("who counts as this machine", () => {
  const req = (peer: string, ip: string, headers: Record<string, string> = {}) => ({
    socket: { remoteAddress: peer },
    ip,
    headers,
  });

  it("loopback addresses in every spelling, nothing else", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
      expect(isLoopbackAddress(a)).toBe(true);
    }
    for (const a of ["10.0.0.1", "192.168.1.5", "::", "0.0.0.0", "fe80::1", "", null, "x"]) {
      expect(isLoopbackAddress(a)).toBe(false);
    }
  });

  it("a local client is local; anyone else, or anyone relayed by a local proxy, is not", () => {
    expect(isLoopbackClient(req("127.0.0.1", "127.0.0.1"), false)).toBe(true);
    expect(isLoopbackClient(req("::ffff:127.0.0.1", "::ffff:127.0.0.1"), false)).toBe(true);
    expect(isLoopbackClient(req("192.168.1.20", "192.168.1.20"), false)).toBe(false);
    // A reverse proxy on this machine relays other people: forwarding headers without
    // TRUST_PROXY mean "not local"; with TRUST_PROXY, the forwarded client decides.
    const relayed = req("127.0.0.1", "127.0.0.1", { "x-forwarded-for": "203.0.113.5" });
    expect(isLoopbackClient(relayed, false)).toBe(false);
    expect(isLoopbackClient(req("127.0.0.1", "203.0.113.5", relayed.headers), true)).toBe(false);
    expect(
      isLoopbackClient(req("127.0.0.1", "127.0.0.1", { forwarded: "for=1.2.3.4" }), false),
    ).toBe(false);
  });

  it("HOST values that only this machine can reach", () => {
    for (const h of ["127.0.0.1", "localhost", "::1", "[::1]"])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.5", "heed.example"]) {
      expect(isLoopbackHost(h)).toBe(false);
    }
  });
});
