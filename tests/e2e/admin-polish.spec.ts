import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { E2E_PORT } from "./env";
import { fixtures } from "./helpers";

/**
 * Admin polish (issue 15, item 9) in Chromium: the list of suppressions (browse, filter and page
 * with and without JavaScript, at 1280 and at 360×740 in Czech), the branding logo upload
 * (preview, served by Heed, shown on a recipient page) and refused uploads (logo and import) that
 * answer on the same page without the CSRF token — or any form field — in the URL.
 */
type User = { email: string; password: string };
type Fx = {
  users: Record<"admin" | "agent" | "branding", User>;
  bulk: string[];
  phones: string[];
  preferences: string;
};
const fx = () => fixtures<Fx>("admin-polish");

const LOGOS = path.resolve("tests/fixtures/logos");
const logoFile = (name: string, mimeType: string) => ({
  name,
  mimeType,
  buffer: fs.readFileSync(path.join(LOGOS, name)),
});

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `/tmp/admin9-${name}.png`, fullPage: true });
  // The first screen, as a person sees it.
  await page.screenshot({ path: `/tmp/admin9-${name}-screen.png` });
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

/** Elements that stick out of the viewport on the right (the page scrolls sideways). */
function widerThanScreen(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    return [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5)
      .slice(0, 10)
      .map(
        (el) =>
          `${el.tagName.toLowerCase()}#${el.id}.${el.className} → ${el.getBoundingClientRect().right}`,
      );
  });
}

/** No form field, and no token, in the address bar. */
function expectCleanUrl(page: Page) {
  const url = new URL(page.url());
  expect(url.search, page.url()).not.toMatch(/csrf|intent=|file=|channel=|note=/);
  expect(page.url()).not.toMatch(/csrf/);
}

async function newPage(
  browser: Browser,
  options: { js: boolean; locale?: string; phone?: boolean },
) {
  const context = await browser.newContext({
    javaScriptEnabled: options.js,
    locale: options.locale ?? "en-US",
    extraHTTPHeaders: { "Accept-Language": options.locale ?? "en" },
    viewport: options.phone ? { width: 360, height: 740 } : { width: 1280, height: 900 },
  });
  return context.newPage();
}

const listRows = (page: Page) => page.locator("section[aria-labelledby=list] table tbody tr");
const listCards = (page: Page) => page.locator("section[aria-labelledby=list] ul > li");

test.describe("the list of suppressions", () => {
  test("without JavaScript: browse newest first, filter, page through equal dates, bad cursor", async ({
    browser,
  }) => {
    test.slow();
    const page = await newPage(browser, { js: false });
    await loginAs(page, fx().users.agent);
    // This spec's own suppressions (other fixtures seed theirs too).
    await page.goto("/admin/suppressions?q=list.e2e.test");
    const list = page.getByRole("region", { name: "All suppressions" });
    await expect(list).toBeVisible();
    // Newest first: the complaint, with its reason in words, source and campaign.
    const first = listRows(page).first();
    await expect(first).toContainText("polish-complaint@list.e2e.test");
    await expect(first).toContainText("Spam complaint");
    await expect(first).toContainText("I get too many messages");
    await expect(first).toContainText("polish-spring");
    // (axe runs in the JavaScript tests: it needs the page's timers.)
    await shot(page, "list-1280");

    // Filter: the import's rows only (60 of one date: a page boundary falls among equal dates).
    await list.getByLabel("Source").selectOption("import");
    await list.getByLabel("Address", { exact: true }).fill("@list.e2e.test");
    await list.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/source=import/);
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      // The URL changes when the next document commits, before it is parsed: wait for it (on a
      // slow machine the cells were read from a document not rendered yet).
      await page.waitForLoadState("load");
      const addresses = page.locator("section[aria-labelledby=list] table tbody td:nth-child(2)");
      await expect(addresses.first()).toBeVisible();
      const cells = await addresses.allInnerTexts();
      sizes.push(cells.length);
      seen.push(...cells.map((c) => c.trim()));
      const older = page
        .getByRole("navigation", { name: "Pages of the suppressions" })
        .getByRole("link", { name: "Older →" });
      if ((await older.count()) === 0) break;
      const before = page.url();
      await older.click();
      await page.waitForURL((u) => u.toString() !== before);
      await expect(page).toHaveURL(/cursor=/);
      await expect(page).toHaveURL(/source=import/);
    }
    // 60 rows of one date on pages of 50: the boundary falls among equal dates.
    expect(sizes, "rows per page").toEqual([50, 10]);
    const bulk = fx().bulk;
    expect(seen.filter((a) => bulk.includes(a)).sort()).toEqual([...bulk].sort());
    expect(new Set(seen).size).toBe(seen.length);
    await page.getByRole("link", { name: "↑ Newest" }).click();
    await expect(page).not.toHaveURL(/cursor=/);
    await expect(page).toHaveURL(/source=import/);

    // Reason and address filters.
    await page.goto("/admin/suppressions?reason=not_relevant&q=polish-0&match=starts");
    await expect(listRows(page)).toHaveCount(4); // polish-00, 03, 06, 09
    await expect(listRows(page).first()).toContainText("The content is not relevant to me");

    // The address view from the list.
    await listRows(page).first().getByRole("link").click();
    await expect(page.getByRole("region", { name: /^State of polish-0/ })).toBeVisible();

    // A cut or edited page link: a message and the newest page, never a 500.
    const bad = await page.goto("/admin/suppressions?q=list.e2e.test&cursor=12.fax.%3Cscript%3E");
    expect(bad?.status()).toBe(200);
    await expect(page.getByRole("alert")).toContainText("This page link is not valid");
    await expect(listRows(page).first()).toContainText("polish-complaint@list.e2e.test");
    await page.goto("/admin/suppressions?from=2026-02-31&channel=fax");
    await expect(page.getByRole("alert")).toContainText("A date is not valid");
    await page.context().close();
  });

  test("with JavaScript: filter by channel and page without console errors", async ({
    browser,
  }) => {
    const page = await newPage(browser, { js: true });
    const errors = watchErrors(page);
    await loginAs(page, fx().users.admin);
    await page.goto("/admin/suppressions");
    const list = page.getByRole("region", { name: "All suppressions" });
    await list.getByLabel("Channel").selectOption("sms");
    await list.getByRole("button", { name: "Show" }).click();
    await expect(page).toHaveURL(/channel=sms/);
    const phones = fx().phones;
    for (const p of phones) await expect(listRows(page).filter({ hasText: p })).toHaveCount(1);
    await expect(list.getByRole("link", { name: "Clear filters" })).toBeVisible();
    await list.getByRole("link", { name: "Clear filters" }).click();
    await expect(page).not.toHaveURL(/channel=sms/);
    await expect(listRows(page)).toHaveCount(50);
    await page.getByRole("link", { name: "Older →" }).click();
    await expect(page).toHaveURL(/cursor=/);
    await expect(listRows(page).first()).toBeVisible();
    await expectNoAxeViolations(page, "list with js, page 2");
    await page.goto("/admin/suppressions?q=list.e2e.test&reason=too_frequent");
    await expect(listRows(page)).toHaveCount(1);
    await expectNoAxeViolations(page, "filtered list");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test("at 360×740 in Czech: cards, no sideways scrolling, axe clean", async ({ browser }) => {
    const page = await newPage(browser, { js: true, locale: "cs", phone: true });
    await loginAs(page, fx().users.agent);
    await page.goto("/admin/suppressions?channel=email&q=list.e2e.test");
    await expect(page.getByRole("heading", { level: 1, name: "Odhlášené adresy" })).toBeVisible();
    const list = page.getByRole("region", { name: "Všechny odhlášené adresy" });
    await expect(list.getByLabel("Zdroj")).toBeVisible();
    await expect(listCards(page).first()).toContainText("Nahlášení spamu");
    await expect(listCards(page).first()).toContainText("polish-complaint@list.e2e.test");
    await shot(page, "list-360-cs");
    expect(await widerThanScreen(page)).toEqual([]);
    await expectNoAxeViolations(page, "list at 360 in Czech");
    await page.goto("/admin/suppressions?cursor=nonsense");
    await expect(page.getByRole("alert")).toContainText("Odkaz na tuto stránku není platný");
    await page.context().close();
  });
});

/** Sends a multipart body that declares a size over the edge's cap; resolves with the answer. */
function postDeclaringSize(
  pathname: string,
  cookie: string,
  declared: number,
  extra: Record<string, string> = {},
): Promise<{ status: number; location: string | undefined; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: E2E_PORT,
        path: pathname,
        method: "POST",
        headers: {
          Cookie: cookie,
          "Content-Type": "multipart/form-data; boundary=x",
          "Content-Length": String(declared),
          "Sec-Fetch-Site": "same-origin",
          ...extra,
        },
      },
      (res) => {
        res.resume();
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          headers: res.headers,
        });
        req.destroy();
      },
    );
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.write("--x\r\n");
  });
}

test.describe("uploads", () => {
  test("an admin uploads a logo: a preview before and after, served by Heed, shown on a recipient page", async ({
    browser,
  }) => {
    test.slow();
    const page = await newPage(browser, { js: true });
    const errors = watchErrors(page);
    await loginAs(page, fx().users.branding);
    try {
      await page.goto("/admin/branding");
      const section = page.getByRole("region", { name: "Logo" });
      await expect(section).toContainText("at most 512 KB");
      await section.getByLabel("Upload a logo").setInputFiles(logoFile("logo.png", "image/png"));
      // What was chosen, before anything is saved.
      const chosen = section.getByRole("img", { name: "The chosen file logo.png" });
      await expect(chosen).toBeVisible();
      expect(await chosen.getAttribute("src")).toMatch(/^data:image\/png;base64,/);
      await shot(page, "branding-chosen-1280");
      await section.getByRole("button", { name: "Upload logo" }).click();
      await expect(page.getByRole("status")).toContainText("Logo uploaded");
      expectCleanUrl(page);
      const current = section.getByRole("img", { name: /^The logo of / });
      await expect(current).toBeVisible();
      const src = (await current.getAttribute("src"))!;
      expect(src).toMatch(/^\/branding\/logo\/[0-9a-f]{16}\.png$/);
      // The image really loaded.
      expect(await current.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
      const served = await page.request.get(src);
      expect(served.status()).toBe(200);
      expect(served.headers()["content-type"]).toBe("image/png");
      // (Set by the route and by helmet: "nosniff, nosniff" reads as nosniff.)
      expect((served.headers()["x-content-type-options"] ?? "").split(",")[0]!.trim()).toBe(
        "nosniff",
      );
      expect(served.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(Buffer.from(await served.body())).toEqual(logoFile("logo.png", "").buffer);
      await expectNoAxeViolations(page, "branding with an uploaded logo");
      await shot(page, "branding-uploaded-1280");

      // The recipient page shows it (a Czech contact).
      const recipient = await newPage(browser, { js: true, phone: true });
      await recipient.goto(`/p/${fx().preferences}`);
      const header = recipient.locator("header img");
      await expect(header).toHaveAttribute("src", src);
      expect(await header.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
      await shot(recipient, "recipient-logo-360");
      await recipient.context().close();

      // A replaced logo gets a new URL.
      await section.getByLabel("Upload a logo").setInputFiles(logoFile("logo.jpg", "image/jpeg"));
      await section.getByRole("button", { name: "Upload logo" }).click();
      await expect(section.getByRole("img", { name: /^The logo of / })).toHaveAttribute(
        "src",
        /\.jpg$/,
      );
      const jpg = (await section.getByRole("img", { name: /^The logo of / }).getAttribute("src"))!;
      expect(jpg).toMatch(/^\/branding\/logo\/[0-9a-f]{16}\.jpg$/);
      expect(jpg).not.toBe(src);

      // 360 px, Czech.
      const phone = await newPage(browser, { js: true, locale: "cs", phone: true });
      await loginAs(phone, fx().users.branding);
      await phone.goto("/admin/branding");
      await expect(phone.getByRole("heading", { level: 1, name: "Vzhled" })).toBeVisible();
      await expect(phone.getByRole("img", { name: /^Logo organizace / })).toBeVisible();
      await shot(phone, "branding-360-cs");
      expect(await widerThanScreen(phone)).toEqual([]);
      await expectNoAxeViolations(phone, "branding at 360 in Czech");
      await phone.context().close();
      expect(errors).toEqual([]);
    } finally {
      // Other specs share this server: recipient pages go back to no uploaded logo.
      await page.goto("/admin/branding");
      const remove = page.getByRole("button", { name: "Remove the uploaded logo" });
      if (await remove.isVisible()) {
        await remove.click();
        await expect(page.getByRole("status")).toContainText("The uploaded logo was removed");
      }
      await page.context().close();
    }
  });

  for (const js of [true, false]) {
    test(`refused uploads say why on the same page, with no token in the URL (JavaScript ${js ? "on" : "off"})`, async ({
      browser,
    }) => {
      test.slow();
      const page = await newPage(browser, { js });
      await loginAs(page, fx().users.admin);
      await page.goto("/admin/branding");
      const section = page.getByRole("region", { name: "Logo" });
      const refusals = [
        [logoFile("logo.svg", "image/svg+xml"), "SVG images are not accepted"],
        [{ ...logoFile("not-an-image.png", "image/png") }, "is not a PNG, JPEG, WebP or GIF"],
        [logoFile("too-large.png", "image/png"), "larger than 512 KB"],
        // Over the edge's cap: refused before it is read, answered on the page all the same.
        [
          { name: "huge.png", mimeType: "image/png", buffer: Buffer.alloc(9 * 1024 * 1024, 0x89) },
          "larger than 512 KB",
        ],
      ] as const;
      for (const [file, words] of refusals) {
        await page
          .getByRole("region", { name: "Logo" })
          .getByLabel("Upload a logo")
          .setInputFiles(file);
        await page
          .getByRole("region", { name: "Logo" })
          .getByRole("button", { name: "Upload logo" })
          .click();
        await expect(page.locator("#logo-error"), file.name).toContainText(words);
        await expect(page.getByRole("alert").first()).toContainText("The logo was not uploaded.");
        expectCleanUrl(page);
        expect(new URL(page.url()).pathname).toBe("/admin/branding");
      }
      await expect(section.getByLabel("Upload a logo")).toHaveAttribute("aria-invalid", "true");
      // axe needs the page's timers: JavaScript on.
      if (js) await expectNoAxeViolations(page, "branding with a refused upload");
      await shot(page, `branding-refused-js-${js ? "on" : "off"}`);

      // The import upload: a file of no known format.
      await page.goto("/admin/imports");
      await page.getByLabel("File (CSV, XLSX, ODS or XLS").setInputFiles({
        name: "report.pdf",
        mimeType: "application/pdf",
        buffer: Buffer.from("%PDF-1.4\n\0\0\0binary"),
      });
      await page.getByRole("button", { name: "Upload and preview" }).click();
      await expect(page.locator("#file-error")).toContainText("Unknown format");
      expectCleanUrl(page);
      await page.context().close();
    });
  }

  test("a body over the edge's cap on an admin form is a readable answer, never a bare 413", async ({
    page,
  }) => {
    await loginAs(page, fx().users.admin);
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    // An import over IMPORT_MAX_FILE_MB (declared): back to the page with its message.
    const imports = await postDeclaringSize("/admin/imports?index", cookie, 1024 * 1024 * 1024);
    expect(imports.status).toBe(303);
    expect(imports.location).toBe("/admin/imports?refused=too_large");
    await page.goto(imports.location!);
    await expect(page.getByRole("alert")).toContainText(
      "The file was not imported. The file is larger than",
    );
    // Remix's own fetch (JavaScript on) gets the redirect in Remix's header.
    const data = await postDeclaringSize(
      "/admin/branding?_data=routes%2Fadmin.branding",
      cookie,
      64 * 1024 * 1024,
    );
    expect(data.status).toBe(204);
    expect(data.headers["x-remix-redirect"]).toBe("/admin/branding?refused=too_large");
    // Another admin form: a short page that says what happened.
    const other = await postDeclaringSize("/admin/topics/new", cookie, 8 * 1024 * 1024);
    expect(other.status).toBe(413);
    expect(other.headers["content-type"]).toMatch(/^text\/html/);
  });
});
