import fs from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Reports, alerts, a campaign, the audit log, the ledger, the outbox, the export, the SMS review
 * queue and the phone-number setting in each of the seven languages (the browser's language,
 * Accept-Language): their own strings translated, numbers written the language's way, html lang
 * set, axe clean in Czech; the report filters without JavaScript in Czech. Screenshots of the
 * Czech and German reports and audit log at 1280 and 360 px go to /tmp/lang-b-*.png.
 */

const LOCALES = ["en", "cs", "de", "es", "fr", "pl", "pt"] as const;
type Locale = (typeof LOCALES)[number];
type Tree = { [key: string]: string | Tree };

/** A namespace's strings, read from the files the app ships. */
function strings(locale: Locale, ns: string): Tree {
  const file = path.resolve("app/i18n/locales", locale, `${ns}.json`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as Tree;
}
function s(locale: Locale, ns: string, key: string): string {
  let node: string | Tree = strings(locale, ns);
  for (const part of key.split(".")) node = (node as Tree)[part]!;
  if (typeof node !== "string") throw new Error(`${locale}/${ns}:${key} is not a string`);
  return node;
}

type I18nFx = { admin: { email: string; password: string } };
type ReportsFx = { march: { from: string; to: string } };
const admin = () => fixtures<I18nFx>("admin-i18n-b").admin;
const march = () => fixtures<ReportsFx>("reports").march;

/** The pages, each with its title (namespace, key) and the English words it must not show. */
const PAGES = (m: { from: string; to: string }) =>
  [
    {
      url: `/admin/reports?from=${m.from}&to=${m.to}`,
      title: ["reports", "title"],
      english: "People leaving",
    },
    { url: "/admin/reports/alerts", title: ["reports", "alerts.title"], english: "Alerts fired" },
    {
      url: `/admin/reports/campaigns/reports-march-news?from=${m.from}&to=${m.to}`,
      title: null,
      english: "Usual rate on this channel",
    },
    { url: "/admin/audit", title: ["audit", "title"], english: "Action starts with" },
    { url: "/admin/ledger", title: ["audit", "ledger.title"], english: "Seal a checkpoint now" },
    { url: "/admin/outbox", title: ["outbox", "title"], english: "Show every status" },
    { url: "/admin/exports", title: ["exports", "title"], english: "Suppressed now" },
    {
      url: "/admin/sms/review",
      title: ["smsreview", "title"],
      english: "business days",
    },
    { url: "/admin/phone-numbers", title: ["imports", "phone.title"], english: "Default country" },
  ] as const;

let storageState: Awaited<ReturnType<BrowserContext["storageState"]>> | undefined;

/** A signed-in page whose browser speaks `locale` (logged in once, in English). */
async function pageIn(
  browser: Browser,
  locale: Locale,
  options: { javaScriptEnabled?: boolean; width?: number } = {},
) {
  if (!storageState) {
    const ctx = await browser.newContext({ locale: "en-GB" });
    const page = await ctx.newPage();
    await loginAs(page, admin());
    storageState = await ctx.storageState();
    await ctx.close();
  }
  const ctx = await browser.newContext({
    locale,
    storageState,
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    viewport: { width: options.width ?? 1280, height: 900 },
  });
  return { ctx, page: await ctx.newPage() };
}

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

const stat = (page: Page, label: string) =>
  page
    .locator("dl div")
    .filter({ has: page.locator("dt", { hasText: label }) })
    .locator("dd")
    .first();

for (const locale of LOCALES) {
  test(`every page of reports, audit, ledger, outbox, exports and SMS review speaks ${locale}`, async ({
    browser,
  }) => {
    test.slow();
    const { ctx, page } = await pageIn(browser, locale);
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    for (const p of PAGES(march())) {
      const res = await page.goto(p.url);
      expect(res?.status(), p.url).toBe(200);
      await expect(page.locator("html")).toHaveAttribute("lang", locale);
      if (p.title) {
        const title = s(locale, p.title[0], p.title[1]);
        await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);
        // The tab's title too: "<page> · <the admin area's name>".
        expect((await page.title()).startsWith(`${title} · `), await page.title()).toBe(true);
      }
      if (locale !== "en") await expect(page.locator("main")).not.toContainText(p.english);
      else await expect(page.locator("main")).toContainText(p.english);
      if (locale === "cs") await expectNoAxeViolations(page, `${p.url} in Czech`);
    }

    // The March report in this language: labels, reasons, sources and numbers.
    await page.goto(`/admin/reports?from=${march().from}&to=${march().to}`);
    await expect(stat(page, s(locale, "reports", "totals.leaving"))).toHaveText("14");
    const reasons = page.getByTestId("table-reasons");
    const noReason = reasons.locator("tbody tr").filter({
      has: page.getByRole("rowheader", { name: s(locale, "reports", "labels.no_reason") }),
    });
    // 9 of 14 people: 64.3 % in English, 64,3 % (a no-break space before %) in the others.
    await expect(noReason).toContainText(locale === "en" ? "64.3 %" : /64,3\s%/);
    await expect(page.getByTestId("table-sources")).toContainText(
      s(locale, "labels", "sources.sms_keyword"),
    );
    const news = page
      .getByTestId("table-campaigns")
      .locator("tbody tr")
      .filter({ hasText: "reports-march-news" });
    // 2,000 sent: a thousands separator of the language (a no-break space in cs, fr, pl, pt…).
    const sent = (await news.locator("td").nth(1).innerText()).trim();
    expect(sent).toBe(new Intl.NumberFormat(locale).format(2000));
    await expect(news).toContainText(locale === "en" ? "0.30 %" : /0,30\s%/);
    await expect(
      page
        .getByRole("region", {
          name: new RegExp(`^${s(locale, "reports", "ui.chart").split(":")[0]}`),
        })
        .first(),
    ).toBeVisible();

    // A bad filter is explained in this language.
    await page.goto("/admin/reports?from=2025-02-30");
    await expect(page.getByRole("alert")).toContainText(
      s(locale, "reports", "filter.problem.from.not_real"),
    );

    // A refused alert setting says why in this language (nothing is saved).
    await page.goto("/admin/reports/alerts");
    await page.getByLabel(s(locale, "reports", "alerts.threshold")).fill("lots");
    await page.getByRole("button", { name: s(locale, "reports", "alerts.save_settings") }).click();
    await expect(
      page.getByText(
        s(locale, "reports", "alerts.error.number").replace(
          "{{field}}",
          s(locale, "reports", "alerts.error.field.threshold"),
        ),
      ),
    ).toBeVisible();

    // The audit log names this admin's login in words, beside its code.
    await page.goto(`/admin/audit?actor=${encodeURIComponent(admin().email)}`);
    const login = page.locator('tr[data-audit-action="login"]').first();
    await expect(login).toContainText(s(locale, "audit", "actions.login"));
    await expect(login).toContainText("login");

    // The export form's error, sent back by the download route, in this language.
    await page.goto("/admin/exports/suppressions.csv?from=2026-02-01&to=2026-01-01");
    await expect(page.getByText(s(locale, "exports", "error.order"))).toBeVisible();

    expect(errors.filter((e) => !e.includes("status of 400"))).toEqual([]);
    await ctx.close();
  });
}

test("without JavaScript, the Czech report filters work", async ({ browser }) => {
  const { ctx, page } = await pageIn(browser, "cs", { javaScriptEnabled: false });
  await page.goto("/admin/reports");
  await page.getByLabel("Od", { exact: true }).fill(march().from);
  await page.getByLabel("Do", { exact: true }).fill(march().to);
  await page.getByLabel("Kanál", { exact: true }).selectOption("sms");
  await page.getByLabel("Seskupit po", { exact: true }).selectOption("week");
  await page.getByRole("button", { name: "Zobrazit" }).click();
  await expect(page).toHaveURL(/channel=sms&granularity=week/);
  await expect(page.getByRole("heading", { name: "Odcházející lidé po týdnech" })).toBeVisible();
  await expect(stat(page, "Odcházející lidé")).toHaveText("6");
  await expect(page.getByText("V tomto období nikdo důvod nenapsal.")).toBeVisible();
  await ctx.close();
});

test("screenshots: Czech and German reports and audit log at 1280 and 360 px", async ({
  browser,
}) => {
  test.slow();
  for (const locale of ["cs", "de"] as const) {
    for (const width of [1280, 360]) {
      const { ctx, page } = await pageIn(browser, locale, { width });
      await page.goto(`/admin/reports?from=${march().from}&to=${march().to}`);
      await expect(stat(page, s(locale, "reports", "totals.leaving"))).toHaveText("14");
      if (width === 360) {
        // Wide charts and tables scroll in their own boxes; the page does not.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
          360,
        );
      }
      await page.screenshot({ path: `/tmp/lang-b-reports-${locale}-${width}.png`, fullPage: true });
      await page.goto("/admin/audit");
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(s(locale, "audit", "title"));
      await page.screenshot({ path: `/tmp/lang-b-audit-${locale}-${width}.png`, fullPage: true });
      await ctx.close();
    }
  }
});
