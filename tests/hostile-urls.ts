/**
 * URLs an attacker (or a careless admin) might register as a webhook endpoint to reach this
 * machine or its network, with what the refusal says. Shared by the guard's unit test and the
 * registration test. Only IP literals and names of this machine: no test depends on outside DNS.
 */
const INTERNAL = /private or reserved/;

export const HOSTILE_URLS: [url: string, why: RegExp][] = [
  // IPv4 spelled every way the URL parser accepts (it reads them all as 127.0.0.1).
  ["http://127.0.0.1/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://2130706433/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://0x7f000001/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://017700000001/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://0177.0.0.1/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://0x7f.0.0.1/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://0x7f.1/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://127.1/hook", /127\.0\.0\.1 \(loopback\)/],
  ["http://127.000.000.001/hook", INTERNAL],
  ["http://0/hook", /0\.0\.0\.0 \(unspecified\)/],
  ["http://0.0.0.0:8080/hook", /unspecified/],
  ["http://10.0.0.1/hook", /private/],
  ["http://172.16.0.1/hook", /private/],
  ["http://192.168.1.10/hook", /private/],
  ["http://169.254.169.254/latest/meta-data/", /linkLocal/],
  ["http://2852039166/latest/meta-data/", /169\.254\.169\.254 \(linkLocal\)/],
  ["http://100.100.100.200/latest/meta-data/", /carrierGradeNat/],
  ["http://255.255.255.255/hook", /broadcast/],
  ["http://224.0.0.1/hook", /multicast/],
  ["http://198.18.0.1/hook", /reserved/],
  // IPv6, and IPv6 forms that carry an internal IPv4 address.
  ["http://[::1]/hook", /loopback/],
  ["http://[::]/hook", /unspecified/],
  ["http://[0:0:0:0:0:0:0:1]/hook", /loopback/],
  ["http://[fe80::1]/hook", /linkLocal/],
  ["http://[fc00::1]/hook", /uniqueLocal/],
  ["http://[fd00:ec2::254]/latest/meta-data/", /uniqueLocal/],
  ["http://[ff02::1]/hook", /multicast/],
  ["http://[::ffff:127.0.0.1]/hook", /maps to 127\.0\.0\.1/],
  ["http://[::ffff:7f00:1]/hook", /maps to 127\.0\.0\.1/],
  ["http://[::ffff:a9fe:a9fe]/latest/meta-data/", /maps to 169\.254\.169\.254/],
  ["http://[::ffff:0:7f00:1]/hook", /translates to 127\.0\.0\.1/],
  ["http://[64:ff9b::7f00:1]/hook", /NAT64\) translates to 127\.0\.0\.1/],
  ["http://[64:ff9b::a9fe:a9fe]/hook", /NAT64\) translates to 169\.254\.169\.254/],
  ["http://[64:ff9b:1::7f00:1]/hook", /NAT64\) translates to 127\.0\.0\.1/],
  ["http://[64:ff9b:1::808:808]/hook", /local-use NAT64/],
  ["http://[2002:7f00:1::1]/hook", /6to4 tunnel to 127\.0\.0\.1/],
  ["http://[2002:a9fe:a9fe::1]/hook", /6to4 tunnel to 169\.254\.169\.254/],
  ["http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", /Teredo/],
  ["http://[::127.0.0.1]/hook", /IPv4-compatible form of 127\.0\.0\.1/],
  ["http://[::7f00:1]/hook", /IPv4-compatible form of 127\.0\.0\.1/],
  // Names of this machine.
  ["http://localhost/hook", /name of this machine/],
  ["http://LOCALHOST./hook", /name of this machine/],
  ["http://localhost:3000/hook", /name of this machine/],
  ["http://api.localhost/hook", /name of this machine/],
  // Not an http(s) URL, or one that carries credentials or a fragment.
  ["file:///etc/passwd", /http\(s\)/],
  ["gopher://127.0.0.1:25/_HELO", /http\(s\)/],
  ["ftp://93.184.215.14/hook", /http\(s\)/],
  ["javascript:alert(1)", /http\(s\)/],
  ["http://user:secret@93.184.215.14/hook", /user name or password/],
  ["http://93.184.215.14/hook#x", /fragment/],
  ["http://[::1/hook", /not a valid URL/],
];

/** Public addresses that must stay accepted. */
export const PUBLIC_URLS: string[] = [
  "https://93.184.215.14/hook",
  "https://[2606:4700:4700::1111]/hook",
  "https://[::ffff:93.184.215.14]/hook",
  "https://[64:ff9b::5db8:d70e]/hook",
];
