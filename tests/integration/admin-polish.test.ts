/**
 * Admin polish (issue 15, item 9), against the real database:
 *
 * - the list of suppressions on /admin/suppressions: newest first, filters, keyset pages exact at
 *   their boundaries (rows of one bulk import share their date; two keyed hashes share an
 *   address), a scan budget that never loses a row, and bad cursors answered with a message;
 * - the branding logo upload: real PNG/JPEG accepted, SVG, a text file named .png and an oversize
 *   file refused, served by Heed with its type, nosniff and an immutable cache, a new upload at a
 *   new URL, removal, audit rows, recipient pages and emails using it;
 * - the import upload's CSRF token read first from the body (never from the URL).
 */
import fs from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfTokenFor } from "~/admin/csrf.server";
import { hashPassword } from "~/admin/password.server";
import { commitSessionCookie, createSession } from "~/admin/session.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import {
  formatListCursor,
  NO_FILTER,
  parseListCursor,
  parseListQuery,
  suppressionListPage,
  type SuppressionListCursor,
  type SuppressionListFilter,
  type SuppressionListRow,
} from "~/exports/suppression-list.server";
import { renderHtml } from "~/mail/layout.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { publicPageData } from "~/recipient/page.server";
import { checkLogo, LogoError, LOGO_MAX_BYTES, sniffLogo } from "~/settings/logo.server";
import { getBranding } from "~/settings/settings.server";
import * as brandingRoute from "~/routes/admin.branding";
import * as logoRoute from "~/routes/branding.logo.$file";
import * as importsRoute from "~/routes/admin.imports._index";
import * as suppressionsRoute from "~/routes/admin.suppressions";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { CONTEXT } from "./api.helpers";

let t: TestDatabase;
let db: Db;
const ORIGIN = "http://localhost:3000";
type Login = { cookie: string; csrf: string };
let admin: Login;
let agent: Login;

const LOGOS = path.resolve(import.meta.dirname, "../fixtures/logos");
const logo = (name: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(fs.readFileSync(path.join(LOGOS, name)));

const EMAILS = Array.from(
  { length: 23 },
  (_, i) => `page${String(i).padStart(2, "0")}@example.com`,
);
const PHONES = ["+48601000101", "+48601000102", "+48601000103"];

async function login(role: "admin" | "agent"): Promise<Login> {
  const user = await db
    .insertInto("admin_users")
    .values({
      email: `polish-${role}@admin.test`,
      role,
      name: null,
      password_hash: await hashPassword("a-long-password-1"),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const { id, session } = await createSession(db, user.id, { ip: null, userAgent: null });
  return { cookie: (await commitSessionCookie(id)).split(";")[0]!, csrf: csrfTokenFor(session) };
}

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  admin = await login("admin");
  agent = await login("agent");
  // One bulk statement: every row has the same date, and consecutive ledger ids.
  await bulkUnsubscribe(
    db,
    EMAILS.map((address) => ({ channel: "email" as const, address })),
    { source: "import", importId: "00000000-0000-4000-8000-0000000000aa", note: "bulk" },
  );
  for (const address of PHONES) {
    await applyConsentChange(db, {
      channel: "sms",
      address,
      action: "unsubscribe",
      source: "sms_keyword",
    });
  }
  await applyConsentChange(db, {
    channel: "email",
    address: "complainer@example.org",
    action: "unsubscribe",
    source: "complaint",
    campaign: "spring-sale",
    reasonCode: "too_frequent",
  });
  // Suppressed, then subscribed again: not listed.
  await applyConsentChange(db, {
    channel: "email",
    address: "back@example.org",
    action: "unsubscribe",
    source: "preference_page",
  });
  await applyConsentChange(db, {
    channel: "email",
    address: "back@example.org",
    action: "subscribe",
    source: "admin",
    reasonText: "Asked on the phone, ticket 12",
  });
  // The same address under two keyed hashes and without a ledger id (as after a hash key
  // change): ties on every column but the hash. And an erased one: only a hash, not listed.
  await sql`
    insert into channel_consent (channel, address_hash, address, status, updated_at)
    values ('email', 'twin-hash-a', 'page10@example.com', 'unsubscribed', now()),
           ('email', 'twin-hash-b', 'page10@example.com', 'unsubscribed', now()),
           ('email', 'erased-hash', null, 'unsubscribed', now())`.execute(db);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

async function run(p: Promise<Response>): Promise<Response> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof Response) return e;
    throw e;
  }
}

type Mod = { loader: (a: never) => Promise<Response>; action?: (a: never) => Promise<Response> };

function get(mod: Mod, who: Login | null, p: string, params: Record<string, string> = {}) {
  const request = new Request(`${ORIGIN}${p}`, {
    headers: { ...(who ? { Cookie: who.cookie } : {}), "Accept-Language": "en" },
  });
  return run(mod.loader({ request, params, context: CONTEXT } as never));
}

function postForm(mod: Mod, who: Login, p: string, body: FormData | URLSearchParams) {
  const request = new Request(`${ORIGIN}${p}`, {
    method: "POST",
    headers: { Cookie: who.cookie, Origin: ORIGIN, "Accept-Language": "en" },
    body,
  });
  return run(mod.action!({ request, params: {}, context: CONTEXT } as never));
}

/** Every page of the list with this filter and page size, following the cursors. */
async function allPages(
  filter: SuppressionListFilter,
  limit: number,
  options: { scanBudget?: number; batch?: number } = {},
) {
  const rows: SuppressionListRow[] = [];
  let before: SuppressionListCursor | null = null;
  let pages = 0;
  for (;;) {
    const page = await suppressionListPage(db, filter, before, { limit, ...options });
    rows.push(...page.rows);
    pages++;
    if (!page.next) break;
    // A cursor survives its trip through a URL.
    const parsed = parseListCursor(formatListCursor(page.next));
    expect(parsed).toEqual(page.next);
    before = page.next;
    if (pages > 500) throw new Error("the pages never ended");
  }
  return { rows, pages };
}

const key = (r: SuppressionListRow) => `${r.channel} ${r.address}`;

describe("the list of suppressions", () => {
  it("lists every suppressed address × channel once, newest first, on pages of any size", async () => {
    const whole = await suppressionListPage(db, NO_FILTER, null, { limit: 500 });
    expect(whole.next).toBeNull();
    // 23 + 3 + 1 + the two twins; not the re-subscribed one nor the erased one.
    expect(whole.rows).toHaveLength(29);
    expect(whole.rows.map((r) => r.address)).not.toContain("back@example.org");
    expect(whole.rows[0]).toMatchObject({
      address: "complainer@example.org",
      channel: "email",
      source: "complaint",
      reason: "too_frequent",
      campaign: "spring-sale",
    });
    expect(whole.rows.slice(1, 4).map((r) => r.address)).toEqual([...PHONES].reverse());
    // The twins have no ledger id: last.
    expect(whole.rows.slice(-2).map((r) => r.address)).toEqual([
      "page10@example.com",
      "page10@example.com",
    ]);
    // Rows of one bulk import share their date: their order is the ledger's, newest first.
    const bulk = whole.rows.filter((r) => r.source === "import");
    expect(bulk).toHaveLength(23);
    expect(new Set(bulk.map((r) => r.date?.toISOString())).size).toBe(1);

    for (const limit of [1, 2, 4, 7, 23, 28, 29, 30]) {
      const { rows, pages } = await allPages(NO_FILTER, limit);
      expect(
        rows.map((r) => `${key(r)} ${r.date?.toISOString()}`),
        `pages of ${limit}`,
      ).toEqual(whole.rows.map((r) => `${key(r)} ${r.date?.toISOString()}`));
      expect(pages).toBe(Math.max(1, Math.ceil(29 / limit)));
    }
  });

  it("filters by channel, source, reason, dates and a part of the address", async () => {
    const f = (over: Partial<SuppressionListFilter>) => ({ ...NO_FILTER, ...over });
    const sms = await allPages(f({ channel: "sms" }), 2);
    expect(sms.rows.map((r) => r.address)).toEqual([...PHONES].reverse());
    expect((await allPages(f({ source: "import" }), 5)).rows).toHaveLength(23);
    expect((await allPages(f({ reason: "too_frequent" }), 5)).rows.map(key)).toEqual([
      "email complainer@example.org",
    ]);
    const page1x = await allPages(f({ address: { text: "PAGE1", mode: "contains" } }), 3);
    expect(page1x.rows.map((r) => r.address).sort()).toEqual(
      [
        ...EMAILS.filter((e) => e.startsWith("page1")),
        "page10@example.com",
        "page10@example.com",
      ].sort(),
    );
    // A phone number's start, with or without its +.
    expect(
      (await allPages(f({ address: { text: "4860100010", mode: "starts" } }), 5)).rows,
    ).toHaveLength(3);
    expect(
      (await allPages(f({ address: { text: "+48601", mode: "starts" } }), 5)).rows,
    ).toHaveLength(3);
    expect(
      (await allPages(f({ address: { text: "example", mode: "starts" } }), 5)).rows,
    ).toHaveLength(0);
    const tomorrow = new Date(Date.now() + 86_400_000);
    expect((await allPages(f({ from: tomorrow }), 5)).rows).toHaveLength(0);
    expect((await allPages(f({ to: tomorrow }), 50)).rows).toHaveLength(27); // the twins have no date
  });

  it("stops at its scan budget with a cursor to go on, and loses no row across such pages", async () => {
    const filter = { ...NO_FILTER, channel: "sms" as const };
    const first = await suppressionListPage(db, { ...NO_FILTER, source: "import" }, null, {
      limit: 5,
      scanBudget: 5,
      batch: 2,
    });
    // The newest five rows are the complaint and the three SMS: one import row among them.
    expect(first.budgetReached).toBe(true);
    expect(first.rows).toHaveLength(1);
    expect(first.next).not.toBeNull();
    const { rows } = await allPages({ ...NO_FILTER, source: "import" }, 5, {
      scanBudget: 5,
      batch: 2,
    });
    expect(rows.map(key)).toEqual(
      (await allPages({ ...NO_FILTER, source: "import" }, 500)).rows.map(key),
    );
    expect((await allPages(filter, 1, { scanBudget: 1, batch: 1 })).rows).toHaveLength(3);
  });

  it("reads filters and cursors from a query string, naming what it cannot use", () => {
    const q = (s: string) => parseListQuery(new URLSearchParams(s));
    expect(q("channel=sms&source=import&reason=too_frequent&q=page&match=starts").filter).toEqual({
      ...NO_FILTER,
      channel: "sms",
      source: "import",
      reason: "too_frequent",
      address: { text: "page", mode: "starts" },
    });
    expect(q("from=2026-01-31&to=2026-01-31").filter).toMatchObject({
      from: new Date("2026-01-31T00:00:00Z"),
      to: new Date("2026-02-01T00:00:00Z"),
    });
    expect(q("from=2026-02-31").problems).toEqual(["date"]);
    expect(q("channel=fax&source=pigeon&from=2026-13-45&match=regex").problems).toEqual([
      "channel",
      "source",
      "date",
      "mode",
    ]);
    expect(q("from=2026-02-02&to=2026-02-01").problems).toEqual(["range"]);
    for (const bad of [
      "x",
      "1.fax.abc",
      "-1.email.abc",
      "1.email.",
      "1.email.a b",
      "99999999999999999999.email.a",
    ]) {
      expect(parseListCursor(bad), bad).toBe("invalid");
    }
    expect(parseListCursor(null)).toBeNull();
    expect(parseListCursor("12.sms.AbC-_9")).toEqual({
      ledgerId: 12,
      channel: "sms",
      hash: "AbC-_9",
    });
  });

  it("is a page for agents and admins; a bad cursor or filter gives a message, never a 500", async () => {
    expect((await get(suppressionsRoute, null, "/admin/suppressions")).status).toBe(302);
    const res = await get(suppressionsRoute, agent, "/admin/suppressions?channel=sms");
    expect(res.status).toBe(200);
    const data = await res.json();
    expect(data.list.rows.map((r: { address: string }) => r.address)).toEqual(
      [...PHONES].reverse(),
    );
    expect(data.list.rows[0]).toMatchObject({ channel: "sms", source: "sms_keyword" });
    expect(data.list.rows[0].href).toBe("/admin/suppressions?address=%2B48601000103#state");

    const complaint = await (
      await get(suppressionsRoute, admin, "/admin/suppressions?reason=too_frequent")
    ).json();
    // The reason as words, from the label sets.
    expect(complaint.list.rows[0]).toMatchObject({ reason: "I get too many messages" });
    expect(complaint.list.reasons.length).toBeGreaterThan(0);

    for (const cursor of ["garbage", "1.fax.x", "%00", "9".repeat(40)]) {
      const r = await get(suppressionsRoute, admin, `/admin/suppressions?cursor=${cursor}`);
      expect(r.status, cursor).toBe(200);
      const d = await r.json();
      expect(d.list.badCursor, cursor).toBe(true);
      expect(d.list.rows.length).toBeGreaterThan(0);
    }
    const problems = await (
      await get(suppressionsRoute, admin, "/admin/suppressions?from=yesterday&channel=fax")
    ).json();
    expect(problems.list.problems).toEqual(["channel", "date"]);

    // Next and Newest links keep the filter.
    const paged = await (
      await get(suppressionsRoute, admin, "/admin/suppressions?source=import")
    ).json();
    expect(paged.list.rows).toHaveLength(23);
    expect(paged.list.nextHref).toBeNull();
    const czech = await run(
      suppressionsRoute.loader({
        request: new Request(`${ORIGIN}/admin/suppressions?channel=sms`, {
          headers: { Cookie: admin.cookie, "Accept-Language": "cs" },
        }),
        params: {},
        context: CONTEXT,
      } as never),
    );
    const cs = await czech.json();
    expect(cs.i18n.locale).toBe("cs");
    expect(cs.title).toBe("Odhlášené adresy · Heed admin");
  });
});

async function uploadLogo(
  who: Login,
  bytes: Uint8Array<ArrayBuffer>,
  name: string,
  type: string,
  csrf = true,
) {
  const form = new FormData();
  if (csrf) form.set("csrf", who.csrf);
  form.set("logo", new Blob([bytes], { type }), name);
  return postForm(brandingRoute as Mod, who, "/admin/branding", form);
}

describe("the branding logo", () => {
  it("knows images by their bytes, not their name", () => {
    expect(sniffLogo(logo("logo.png"))).toBe("png");
    expect(sniffLogo(logo("logo.jpg"))).toBe("jpg");
    expect(sniffLogo(logo("logo.webp"))).toBe("webp");
    expect(sniffLogo(logo("logo.gif"))).toBe("gif");
    expect(sniffLogo(logo("logo.svg"))).toBe("svg");
    expect(sniffLogo(logo("not-an-image.png"))).toBeNull();
    expect(() => checkLogo(logo("too-large.png"))).toThrow(LogoError);
    expect(logo("too-large.png").byteLength).toBeGreaterThan(LOGO_MAX_BYTES);
  });

  it("an admin uploads a PNG: stored, audited, served with its type, nosniff and an immutable cache", async () => {
    expect((await uploadLogo(agent, logo("logo.png"), "logo.png", "image/png")).status).toBe(403);
    const res = await uploadLogo(admin, logo("logo.png"), "logo.png", "image/png");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/admin/branding?logo=uploaded#logo");
    const branding = await getBranding(db);
    expect(branding.logoFile).toMatch(/^[0-9a-f]{16}\.png$/);

    const served = await get(logoRoute as Mod, null, `/branding/logo/${branding.logoFile}`, {
      file: branding.logoFile,
    });
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(served.headers.get("x-content-type-options")).toBe("nosniff");
    expect(served.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(logo("logo.png"));

    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "branding.logo_upload")
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({
      changes: { logoFile: { from: "", to: branding.logoFile } },
      contentType: "image/png",
    });

    // Recipient pages and emails use it (it wins over a logo URL).
    clearRecipientCache();
    const page = await publicPageData(db, "en");
    expect(page.branding.logoUrl).toBe(`/branding/logo/${branding.logoFile}`);
    const html = renderHtml(
      { locale: "en", subject: "s", preheader: "p", blocks: [], footer: [] },
      branding,
    );
    expect(html).toMatch(new RegExp(`src="https?://[^"]+/branding/logo/${branding.logoFile}"`));

    // The same file again: nothing changes.
    const again = await uploadLogo(admin, logo("logo.png"), "copy.png", "image/png");
    expect(again.headers.get("location")).toBe("/admin/branding?logo=unchanged#logo");
  });

  it("a replaced logo gets a new URL; the old one keeps working for emails already sent", async () => {
    const before = (await getBranding(db)).logoFile;
    const res = await uploadLogo(admin, logo("logo.jpg"), "photo.jpeg", "image/jpeg");
    expect(res.status).toBe(302);
    const after = (await getBranding(db)).logoFile;
    expect(after).toMatch(/^[0-9a-f]{16}\.jpg$/);
    expect(after).not.toBe(before);
    const served = await get(logoRoute as Mod, null, `/branding/logo/${after}`, { file: after });
    expect(served.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(logo("logo.jpg"));
    expect((await get(logoRoute as Mod, null, "", { file: before })).status).toBe(200);
    for (const file of ["0000000000000000.png", "../etc/passwd", "x.svg", ""]) {
      expect((await get(logoRoute as Mod, null, "", { file })).status, file).toBe(404);
    }
  });

  it("refuses SVG, a text file named .png, an oversize file and a missing token, and keeps the logo", async () => {
    const current = (await getBranding(db)).logoFile;
    const refusals = [
      [logo("logo.svg"), "logo.svg", "image/svg+xml", 400, "SVG images are not accepted"],
      [logo("logo.svg"), "logo.png", "image/png", 400, "SVG images are not accepted"],
      [logo("not-an-image.png"), "not-an-image.png", "image/png", 400, "is not a PNG, JPEG"],
      [logo("too-large.png"), "too-large.png", "image/png", 413, "larger than 512 KB"],
      [new Uint8Array(0), "empty.png", "image/png", 400, "Choose an image file"],
    ] as const;
    for (const [bytes, name, type, status, words] of refusals) {
      const res = await uploadLogo(admin, bytes, name, type);
      expect(res.status, name).toBe(status);
      const body = await res.json();
      expect(body, name).toMatchObject({ ok: false, form: "logo" });
      expect(body.fieldErrors.logo, name).toContain(words);
    }
    expect((await uploadLogo(admin, logo("logo.gif"), "logo.gif", "image/gif", false)).status).toBe(
      403,
    );
    expect((await getBranding(db)).logoFile).toBe(current);
  });

  it("says so in the page's language, and an admin removes the uploaded logo (audited)", async () => {
    const form = new FormData();
    form.set("csrf", admin.csrf);
    form.set("logo", new Blob([logo("logo.svg")], { type: "image/svg+xml" }), "logo.svg");
    const res = await run(
      brandingRoute.action({
        request: new Request(`${ORIGIN}/admin/branding`, {
          method: "POST",
          headers: { Cookie: admin.cookie, Origin: ORIGIN, "Accept-Language": "cs" },
          body: form,
        }),
        params: {},
        context: CONTEXT,
      } as never),
    );
    expect((await res.json()).fieldErrors.logo).toContain("Obrázky SVG se nepřijímají");

    const removed = await postForm(
      brandingRoute as Mod,
      admin,
      "/admin/branding",
      new URLSearchParams({ csrf: admin.csrf, intent: "logo_remove" }),
    );
    expect(removed.status).toBe(302);
    expect(removed.headers.get("location")).toBe("/admin/branding?logo=removed#logo");
    expect((await getBranding(db)).logoFile).toBe("");
    const audit = await db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "like", "branding.logo%")
      .orderBy("id")
      .execute();
    expect(audit.map((a) => a.action)).toEqual([
      "branding.logo_upload",
      "branding.logo_upload",
      "branding.logo_remove",
    ]);
    clearRecipientCache();
    expect((await publicPageData(db, "en")).branding.logoUrl).toBe("");
  });

  it("saving the other branding fields keeps the uploaded logo", async () => {
    await uploadLogo(admin, logo("logo.webp"), "logo.webp", "image/webp");
    const file = (await getBranding(db)).logoFile;
    expect(file).toMatch(/\.webp$/);
    const res = await postForm(
      brandingRoute as Mod,
      admin,
      "/admin/branding",
      new URLSearchParams({
        csrf: admin.csrf,
        organizationName: "Acme",
        logoUrl: "https://cdn.example.com/logo.png",
        accentColor: "#2563eb",
        privacyPolicyUrl: "",
        supportEmail: "",
        supportPhone: "",
      }),
    );
    expect(res.status).toBe(200);
    const branding = await getBranding(db);
    expect(branding).toMatchObject({ organizationName: "Acme", logoFile: file });
    clearRecipientCache();
    expect((await publicPageData(db, "en")).branding.logoUrl).toBe(`/branding/logo/${file}`);
  });
});

describe("the import upload's CSRF token", () => {
  async function postImport(fields: [string, string | Blob][]) {
    const form = new FormData();
    for (const [k, v] of fields) {
      if (typeof v === "string") form.append(k, v);
      else form.append(k, v, "list.csv");
    }
    return postForm(importsRoute as Mod, admin, "/admin/imports?index", form);
  }
  const csv = () => new Blob(["email\nimport-token@example.com\n"], { type: "text/csv" });
  const uploadsDir = () => path.join(process.env.HEED_DATA_DIR ?? "", "imports");
  const uploads = () => (fs.existsSync(uploadsDir()) ? fs.readdirSync(uploadsDir()) : []);

  it("comes first in the body and is checked before the file is written; never in the URL", async () => {
    const files = uploads().length;
    const late = await postImport([
      ["channel", "email"],
      ["file", csv()],
      ["csrf", admin.csrf],
    ]);
    expect(late.status).toBe(403);
    const wrong = await postImport([
      ["csrf", "not-the-token"],
      ["channel", "email"],
      ["file", csv()],
    ]);
    expect(wrong.status).toBe(403);
    expect(uploads()).toHaveLength(files);
    const ok = await postImport([
      ["csrf", admin.csrf],
      ["channel", "email"],
      ["file", csv()],
    ]);
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toMatch(/^\/admin\/imports\/[0-9a-f-]{36}$/);
  });
});
