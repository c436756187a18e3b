import { expect, test, type APIRequestContext, type APIResponse } from "@playwright/test";
import { fixtures } from "./helpers";

/**
 * Recipient endpoints at the HTTP level: RFC 8058 one-click as mailbox providers send
 * it, GETs that never change consent, refused tokens that write nothing, token-page headers.
 * PGlite is single-process, so "nothing changed" is proven through what the server shows and
 * does next (a page still showing "Subscribed", a later POST that reports a change); the
 * integration suite counts ledger rows directly.
 */

type Contact = Record<string, string>;
const fx = () => fixtures<Record<string, Contact>>("recipient");

const h1 = async (res: APIResponse) => /<h1[^>]*>([^<]*)<\/h1>/.exec(await res.text())?.[1];

/** The state badges of the preference page, e.g. { email: "Subscribed", ... }. */
async function states(request: APIRequestContext, token: string) {
  const res = await request.get(`/p/${token}`);
  expect(res.status()).toBe(200);
  const html = await res.text();
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/data-testid="ch-(\w+)-state"[^>]*>([^<]*)</g)) out[m[1]!] = m[2]!;
  return out;
}

const ALL_SUBSCRIBED = { email: "Subscribed", sms: "Subscribed", whatsapp: "Subscribed" };

function expectTokenPageHeaders(res: APIResponse) {
  const h = res.headers();
  expect(h["cache-control"]).toBe("no-store");
  expect(h["referrer-policy"]).toBe("no-referrer");
  expect(h["x-robots-tag"]).toMatch(/^noindex/);
  expect(h["content-security-policy"]).toMatch(/script-src [^;]*'nonce-/);
  expect(h["content-security-policy"]).not.toContain("unsafe-inline");
  expect(h["set-cookie"]).toBeUndefined();
}

/** A one-click answer (RFC 8058, answered before Remix): a tiny document that loads nothing. */
function expectOneClickHeaders(res: APIResponse) {
  const h = res.headers();
  expect(h["cache-control"]).toBe("no-store");
  expect(h["referrer-policy"]).toBe("no-referrer");
  expect(h["x-robots-tag"]).toMatch(/^noindex/);
  expect(h["content-security-policy"]).toMatch(/default-src 'none'/);
  expect(h["set-cookie"]).toBeUndefined();
}

test("the exact Gmail one-click request unsubscribes with 200, no Location, no Set-Cookie; a repeat changes nothing", async ({
  request,
}) => {
  const c = fx().gmail!;
  const post = () =>
    request.post(`/u/${c.unsubscribe}`, {
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Mozilla/5.0 (compatible; Google-Unsubscribe)",
      },
      data: "List-Unsubscribe=One-Click",
      maxRedirects: 0,
    });
  const res = await post();
  expect(res.status()).toBe(200);
  expect(res.headers()["location"]).toBeUndefined();
  expect(res.headers()["set-cookie"]).toBeUndefined();
  expectOneClickHeaders(res);
  expect(await h1(res)).toBe("You are unsubscribed");

  const again = await post();
  expect(again.status()).toBe(200);
  expect(again.headers()["location"]).toBeUndefined();
  expect(again.headers()["set-cookie"]).toBeUndefined();
  expect(await h1(again)).toBe("You are already unsubscribed");

  expect(await states(request, c.preferences!)).toEqual({
    email: "Unsubscribed",
    sms: "Subscribed",
    whatsapp: "Subscribed",
  });
});

test("a one-click POST sent from a webmail's own origin (browser-side) still unsubscribes with 200", async ({
  request,
}) => {
  const c = fx().webmail!;
  const res = await request.post(`/u/${c.unsubscribe}`, {
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: "https://mail.example.net",
      "Sec-Fetch-Site": "cross-site",
    },
    data: "List-Unsubscribe=One-Click",
    maxRedirects: 0,
  });
  expect(res.status()).toBe(200);
  expect(res.headers()["set-cookie"]).toBeUndefined();
  expect(await h1(res)).toBe("You are unsubscribed");
  expect((await states(request, c.preferences!)).email).toBe("Unsubscribed");
});

test("a multipart one-click POST on a topic link opts out of that topic only, with 200 and no redirect or cookie", async ({
  request,
}) => {
  const c = fx().multipart!;
  const res = await request.post(`/u/${c.unsubscribeTopic}`, {
    multipart: { "List-Unsubscribe": "One-Click" },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(200);
  expect(res.headers()["location"]).toBeUndefined();
  expect(res.headers()["set-cookie"]).toBeUndefined();
  expect(await h1(res)).toBe("You are unsubscribed");
  expect(await states(request, c.preferences!)).toEqual(ALL_SUBSCRIBED);
  const page = await (await request.get(`/p/${c.preferences}`)).text();
  // The email card's "Recipient news" box is unchecked; SMS keeps it.
  expect(page).toMatch(/id="ch-email-topic-recipient-news"(?![^>]*checked)[^>]*>/);
  expect(page).toMatch(/id="ch-sms-topic-recipient-news"[^>]*checked[^>]*>/);
});

test("20 GETs of /u/{token} and /p/{token} (as link scanners do) leave consent unchanged", async ({
  request,
}) => {
  const c = fx().gets!;
  const agents = [
    "Mozilla/5.0 (compatible; Barracuda Sentinel)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36",
  ];
  for (let i = 0; i < 20; i++) {
    const headers = { "User-Agent": agents[i % 2]! };
    for (const path of [`/u/${c.unsubscribe}`, `/u/${c.unsubscribeTopic}`, `/p/${c.preferences}`]) {
      const res = await request.get(path, { headers });
      expect(res.status()).toBe(200);
      expectTokenPageHeaders(res);
    }
  }
  expect(await states(request, c.preferences!)).toEqual(ALL_SUBSCRIBED);
  const unsub = await request.get(`/u/${c.unsubscribeTopic}`);
  expect(await h1(unsub)).toBe("Unsubscribe");
  // The first POST is the one that changes something.
  const res = await request.post(`/u/${c.unsubscribe}`, {
    form: { "List-Unsubscribe": "One-Click" },
  });
  expect(await h1(res)).toBe("You are unsubscribed");
});

test("tampered, expired and wrong-purpose tokens get a localized 400/410 page and write nothing", async ({
  request,
}) => {
  const c = fx().bad!;
  // German browser; the contact speaks French. A good signature (expired, wrong purpose) names
  // the contact, so its page is in French; a tampered or garbage token names no one: German.
  const headers = { "Accept-Language": "de-DE,de;q=0.9,en;q=0.5" };
  const cases = [
    { path: `/u/${c.tampered}`, status: 400, lang: "de", title: "Dieser Link funktioniert nicht" },
    { path: `/u/${c.expired}`, status: 410, lang: "fr", title: "Ce lien a expiré" },
    {
      path: `/u/${c.preferences}`,
      status: 400,
      lang: "fr",
      title: "Ce lien ne peut pas être utilisé ici",
    },
    { path: "/u/not-a-token", status: 400, lang: "de", title: "Dieser Link funktioniert nicht" },
    {
      path: `/p/${c.tamperedPreferences}`,
      status: 400,
      lang: "de",
      title: "Dieser Link funktioniert nicht",
    },
    { path: `/p/${c.expiredPreferences}`, status: 410, lang: "fr", title: "Ce lien a expiré" },
    {
      path: `/p/${c.unsubscribe}`,
      status: 400,
      lang: "fr",
      title: "Ce lien ne peut pas être utilisé ici",
    },
  ];
  for (const { path, status, lang, title } of cases) {
    const get = await request.get(path, { headers });
    expect(get.status(), path).toBe(status);
    expect(await h1(get), path).toBe(title);
    expectTokenPageHeaders(get);
    const html = await get.text();
    expect(html).toContain(`<html lang="${lang}"`);
    expect(html).toMatch(/<form method="post" action="\/manage"/);
    expect(html).toContain('name="email"');

    // Every kind of POST is refused the same way.
    const forms: Record<string, string>[] = [
      { "List-Unsubscribe": "One-Click" },
      { intent: "unsubscribe", reason: "other", reasonText: "x" },
      { intent: "unsubscribe_all" },
    ];
    for (const form of forms) {
      const post = await request.post(path, { headers, form, maxRedirects: 0 });
      expect(post.status(), `${path} ${JSON.stringify(form)}`).toBe(status);
      expect(await h1(post)).toBe(title);
    }
  }
  // Nothing was written: every channel and topic is as it was, and the first valid POST is the
  // one that changes something.
  expect(await states(request, c.preferences!)).toEqual({
    email: "Abonné",
    sms: "Abonné",
    whatsapp: "Abonné",
  });
  expect(await (await request.get(`/p/${c.preferences}`)).text()).toMatch(
    /id="ch-email-topic-recipient-news"[^>]*checked[^>]*>/,
  );
  const valid = await request.post(`/u/${c.unsubscribe}`, {
    form: { "List-Unsubscribe": "One-Click" },
  });
  expect(await h1(valid)).toBe("Vous êtes désabonné");
});

test("token pages and short links send no-store, no-referrer and noindex; short links resolve, expire and 404", async ({
  request,
}) => {
  const c = fx().shortLink!;
  const redirect = await request.get(`/s/${c.code}`, { maxRedirects: 0 });
  expect(redirect.status()).toBe(302);
  expect(redirect.headers()["location"]).toBe(`/p/${c.preferences}`);
  expect(redirect.headers()["cache-control"]).toBe("no-store");
  expect(redirect.headers()["referrer-policy"]).toBe("no-referrer");
  const followed = await request.get(`/s/${c.code}`);
  expect(followed.status()).toBe(200);
  expect(await h1(followed)).toBe("Your preferences");
  expectTokenPageHeaders(followed);

  const expired = await request.get(`/s/${c.expiredCode}`);
  expect(expired.status()).toBe(410);
  expectTokenPageHeaders(expired);
  const unknown = await request.get("/s/doesNotExist1");
  expect(unknown.status()).toBe(404);
  expect(await h1(unknown)).toBe("This link does not work");
  for (const path of [`/u/${c.unsubscribe}`, `/p/${c.preferences}`]) {
    expectTokenPageHeaders(await request.get(path));
  }
});

test("a form POST that cannot be read is answered with a 400 page, not an error", async ({
  request,
}) => {
  const c = fx().shortLink!;
  const res = await request.post(`/u/${c.unsubscribeSms}`, {
    headers: { "Content-Type": "multipart/form-data; boundary=x" },
    data: "garbage",
  });
  expect(res.status()).toBe(400);
  expect(await res.text()).toContain("We could not read the form. Please try again.");
  const prefs = await request.post(`/p/${c.preferences}`, { form: { "choice.email": "explode" } });
  expect(prefs.status()).toBe(400);
  expect(await prefs.text()).toContain("We could not read your choices. Please try again.");
  expect(await states(request, c.preferences!)).toEqual(ALL_SUBSCRIBED);
});
