/**
 * The token pages' GETs answered from rendered templates before express and Remix (issue 14.2,
 * app/server/token-pages.server.ts). Functional only: over real HTTP, against the built server
 * in production mode on the test project's database, each page served that way is byte for byte
 * the document Remix renders for the same request (`/u/T?`, an empty query string, takes the
 * normal path and renders the same URL), for recipients whose addresses need escaping, in
 * several languages and consent states; two recipients sharing a template each see only their
 * own address and links; a change shows at once; refused links still get their error pages.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "~/db/db.server";
import { addressKey, normalizeOrThrow } from "~/consent/consent.server";
import { signLinkToken } from "~/links/tokens.server";
import { startSeededServer } from "./seeded-server";
import type { RunningServer } from "./server.helpers";

let server: RunningServer;

type Person = { email: string; phone?: string; locale: string | null };
const PEOPLE = {
  quote: { email: "o'neil+news@example.com", locale: null },
  plain: { email: "plain@example.com", locale: null },
  plain2: { email: "second.person@example.org", locale: null },
  czech: { email: "jana.novakova@example.cz", phone: "+420777111222", locale: "cs" },
  polish: { email: "jan.kowalski@zażółć.pl", locale: "pl" },
} satisfies Record<string, Person>;
type Name = keyof typeof PEOPLE;
/** `uah`: an unsubscribe link naming its address by hash, as every link the API signs does. */
const links = {} as Record<
  Name,
  { u: string; p: string; sms: string | null; uah: string; moved: string }
>;

async function seed(db: Db) {
  for (const [name, person] of Object.entries(PEOPLE) as [Name, Person][]) {
    const contact = await db
      .insertInto("contacts")
      .values({ email: person.email, phone: person.phone ?? null, locale: person.locale })
      .returning("id")
      .executeTakeFirstOrThrow();
    const sign = (purpose: "unsubscribe" | "preferences", channel: "email" | "sms" = "email") =>
      signLinkToken({ contactId: contact.id, channel, purpose });
    const byHash = (address: string) =>
      signLinkToken({
        contactId: contact.id,
        channel: "email",
        purpose: "unsubscribe",
        addressHash: addressKey(normalizeOrThrow("email", address)),
      });
    links[name] = {
      u: await sign("unsubscribe"),
      p: await sign("preferences"),
      sms: person.phone ? await sign("unsubscribe", "sms") : null,
      uah: await byHash(person.email),
      // The contact's address has changed since this link was sent: the page names no address.
      moved: await byHash(`earlier.${name}@example.net`),
    };
  }
}

let stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, stop } = await startSeededServer("templates", seed));
}, 240_000);

afterAll(async () => {
  await stop?.();
});

/** A GET sent as written (fetch would drop an empty query string). */
function get(pathname: string, headers: Record<string, string> = {}) {
  return new Promise<{ res: { status: number; headers: Headers }; html: string }>(
    (resolve, reject) => {
      const req = http.get(
        { host: "127.0.0.1", port: server.port, path: pathname, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const h = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(", ") : value);
            }
            resolve({
              res: { status: res.statusCode ?? 0, headers: h },
              html: Buffer.concat(chunks).toString("utf8"),
            });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
    },
  );
}

/**
 * The nonce differs per request, and so may the preferences link that /u signs for each request
 * (its `iat` is the second it was signed in); the rest of the document must not.
 */
function withoutNonce(html: string) {
  return html.replace(/nonce="[^"]*"/g, 'nonce="N"').replace(/\/p\/[\w.-]+/g, "/p/SIGNED");
}

/** The contact a link in the page is for (its token's `sub`). */
function linkSubjects(html: string, page: "u" | "p") {
  const tokens = [...html.matchAll(new RegExp(`/${page}/([\\w-]+\\.[\\w-]+\\.[\\w-]+)`, "g"))];
  return new Set(
    tokens.map(
      (m) =>
        (JSON.parse(Buffer.from(m[1]!.split(".")[1]!, "base64url").toString()) as { sub: string })
          .sub,
    ),
  );
}
const subjectOf = (token: string) => [...linkSubjects(`/u/${token}`, "u")][0];

const VOLATILE = new Set([
  ...["date", "x-request-id", "content-security-policy", "server-timing"],
  ...["content-length", "transfer-encoding"], // one is written whole, the other streamed
]);
function stableHeaders(res: { headers: Headers }) {
  return [...res.headers.entries()].filter(([name]) => !VOLATILE.has(name));
}

/** The fast path's answer and the normal path's answer for the same page. */
async function both(pathname: string, headers: Record<string, string> = {}) {
  const normal = await get(`${pathname}?`, headers);
  const fast = await get(pathname, headers);
  expect(normal.res.status).toBe(200);
  expect(fast.res.headers.get("server-timing")).toBe('page;desc="template"');
  expect(normal.res.headers.get("server-timing")).toBeNull();
  return { fast, normal };
}

describe("token pages from templates", () => {
  const pages: [string, Name, "u" | "p" | "sms" | "uah" | "moved", Record<string, string>][] = [
    ["/u, an address that needs escaping", "quote", "u", {}],
    ["/p, an address that needs escaping", "quote", "p", {}],
    ["/u, Czech by the contact's locale", "czech", "u", {}],
    ["/p, email and SMS, Czech", "czech", "p", {}],
    ["/u for SMS", "czech", "sms", {}],
    ["/u, Polish address and page", "polish", "u", {}],
    ["/p, German by Accept-Language", "plain", "p", { "Accept-Language": "de-DE,de;q=0.9" }],
    ["/u naming its address by hash", "quote", "uah", {}],
    ["/u naming its address by hash, Czech", "czech", "uah", {}],
    ["/u naming an address the contact no longer has", "plain", "moved", {}],
  ];
  for (const [title, name, page, headers] of pages) {
    it(`is the document Remix renders: ${title}`, async () => {
      const token = page === "sms" ? links[name].sms! : links[name][page];
      const pathname = `/${page === "p" ? "p" : "u"}/${token}`;
      const { fast, normal } = await both(pathname, headers);
      expect(fast.res.status).toBe(200);
      expect(normal.res.status).toBe(200);
      expect(withoutNonce(fast.html)).toBe(withoutNonce(normal.html));
      expect(stableHeaders(fast.res)).toEqual(stableHeaders(normal.res));
      // The CSP nonce of the answer is the one its scripts carry, and fresh on each request.
      const nonce = /script-src[^;]*'nonce-([^']+)'/.exec(
        fast.res.headers.get("content-security-policy") ?? "",
      )?.[1];
      expect(nonce).toBeTruthy();
      expect(fast.html).toContain(`nonce="${nonce}"`);
      const again = await get(pathname, headers);
      expect(again.html).not.toContain(`nonce="${nonce}"`);
    });
  }

  it("shows each recipient only their own address and links when they share a template", async () => {
    const a = await get(`/p/${links.plain.p}`);
    const b = await get(`/p/${links.plain2.p}`);
    expect(a.res.headers.get("server-timing")).toBe('page;desc="template"');
    expect(b.res.headers.get("server-timing")).toBe('page;desc="template"');
    expect(a.html).toContain(PEOPLE.plain.email);
    expect(a.html).not.toContain(PEOPLE.plain2.email);
    expect(a.html).not.toContain(links.plain2.p);
    expect(b.html).toContain(PEOPLE.plain2.email);
    expect(b.html).not.toContain(PEOPLE.plain.email);
    expect(b.html).not.toContain(links.plain.p);
    // On /u, the preferences link each page offers is its own recipient's.
    const ua = await get(`/u/${links.plain.u}`);
    const ub = await get(`/u/${links.plain2.u}`);
    expect(ua.res.headers.get("server-timing")).toBe('page;desc="template"');
    expect(linkSubjects(ua.html, "p")).toEqual(new Set([subjectOf(links.plain.u)]));
    expect(linkSubjects(ub.html, "p")).toEqual(new Set([subjectOf(links.plain2.u)]));
    expect(linkSubjects(ua.html, "u")).toEqual(new Set([subjectOf(links.plain.u)]));
    // Apart from the address, the token and the nonce, the two documents are the same.
    const neutral = (html: string, person: Person, token: string) =>
      withoutNonce(html).replaceAll(person.email, "ADDRESS").replaceAll(token, "TOKEN");
    expect(neutral(a.html, PEOPLE.plain, links.plain.p)).toBe(
      neutral(b.html, PEOPLE.plain2, links.plain2.p),
    );
  });

  it("shows a change at once (the consent state is read on every request)", async () => {
    const before = await both(`/u/${links.plain2.u}`);
    expect(withoutNonce(before.fast.html)).toBe(withoutNonce(before.normal.html));
    const beforeByHash = await both(`/u/${links.plain2.uah}`);
    const post = await fetch(`${server.url}/u/${links.plain2.u}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ intent: "unsubscribe" }),
      redirect: "manual",
    });
    expect(post.status).toBeLessThan(400);
    await post.body?.cancel();
    const after = await both(`/u/${links.plain2.u}`);
    expect(withoutNonce(after.fast.html)).toBe(withoutNonce(after.normal.html));
    expect(withoutNonce(after.fast.html)).not.toBe(withoutNonce(before.fast.html));
    // The link naming the same address by hash (one query for contact and state) sees it too.
    const afterByHash = await both(`/u/${links.plain2.uah}`);
    expect(withoutNonce(afterByHash.fast.html)).toBe(withoutNonce(afterByHash.normal.html));
    expect(withoutNonce(afterByHash.fast.html)).not.toBe(withoutNonce(beforeByHash.fast.html));
    expect(afterByHash.fast.html).toContain(PEOPLE.plain2.email);
  });

  it("names no address on a link for an address the contact no longer has", async () => {
    const { fast } = await both(`/u/${links.plain.moved}`);
    expect(fast.res.status).toBe(200);
    expect(fast.html).not.toContain(PEOPLE.plain.email);
    expect(fast.html).not.toContain("earlier.plain@example.net");
  });

  it("honours a valid X-Request-Id from the client as the normal path does, else makes its own", async () => {
    for (const page of ["u", "p"] as const) {
      const pathname = `/${page}/${links.plain[page]}`;
      const id = `proxy-${page}.42_A`;
      const { fast, normal } = await both(pathname, { "X-Request-Id": id });
      expect(fast.res.headers.get("x-request-id")).toBe(id);
      expect(normal.res.headers.get("x-request-id")).toBe(id);
      // Not an id (a space, too long): both paths answer with a fresh UUID instead.
      for (const bad of ["two words", "x".repeat(65)]) {
        const r = await both(pathname, { "X-Request-Id": bad });
        for (const answer of [r.fast, r.normal]) {
          const got = answer.res.headers.get("x-request-id");
          expect(got).not.toBe(bad);
          expect(got).toMatch(
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          );
        }
      }
      const none = await get(pathname);
      expect(none.res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("leaves refused links to the normal path: their error pages and statuses", async () => {
    const forged = `${links.plain.u.slice(0, -3)}AAA`;
    const bad = await get(`/u/${forged}`);
    expect(bad.res.status).toBe(400);
    expect(bad.res.headers.get("server-timing")).toBeNull();
    const wrongPurpose = await get(`/p/${links.plain.u}`);
    expect(wrongPurpose.res.status).toBe(400);
    expect(wrongPurpose.res.headers.get("server-timing")).toBeNull();
  });
});
