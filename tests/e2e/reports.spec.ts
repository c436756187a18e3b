import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Reports in Chromium: charts and tables of why people left, the filters (a GET form
 * that works without JavaScript), CSV downloads, a campaign's page, and the unsubscribe-rate
 * alerts. The figures are those worked out by hand in tests/e2e/fixtures/reports.ts.
 */

type User = { email: string; password: string };
type ReportsFx = {
  users: Record<"agent" | "admin" | "nojs" | "phone", User>;
  march: { from: string; to: string };
  recent: { key: string; name: string };
};
const fx = () => fixtures<ReportsFx>("reports");

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

/** The cells of a table row whose header cell is `key`. */
async function rowCells(page: Page, testId: string, key: string): Promise<string[]> {
  const row = page
    .getByTestId(testId)
    .locator("tbody tr")
    .filter({ has: page.getByRole("rowheader", { name: key, exact: true }) });
  await expect(row).toHaveCount(1);
  return (await row.locator("th, td").allInnerTexts()).map((s) => s.trim());
}

async function campaignCells(page: Page, key: string): Promise<string[]> {
  const row = page.getByTestId("table-campaigns").locator("tbody tr").filter({ hasText: key });
  await expect(row).toHaveCount(1);
  return (await row.locator("th, td").allInnerTexts()).map((s) => s.trim());
}

async function filterMarch(page: Page, extra: { channel?: string; granularity?: string } = {}) {
  const { march } = fx();
  await page.getByLabel("From", { exact: true }).fill(march.from);
  await page.getByLabel("To", { exact: true }).fill(march.to);
  if (extra.channel) await page.getByLabel("Channel", { exact: true }).selectOption(extra.channel);
  if (extra.granularity)
    await page.getByLabel("Group by", { exact: true }).selectOption(extra.granularity);
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(new RegExp(`from=${march.from}&to=${march.to}`));
}

const stat = (page: Page, label: string) =>
  page
    .locator("dl div")
    .filter({ has: page.locator("dt", { hasText: label }) })
    .locator("dd")
    .first();

test("an agent sees why people left in March: charts, tables, filters by channel and week, a campaign's page, CSV", async ({
  page,
}) => {
  const { users, march } = fx();
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  await loginAs(page, users.agent);
  await page.getByRole("link", { name: "Reports", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Reports" })).toBeVisible();

  await filterMarch(page);
  await expect(stat(page, "People leaving")).toHaveText("14");
  await expect(stat(page, "Channel unsubscribes")).toHaveText("13");
  await expect(stat(page, "Topic opt-outs")).toHaveText("1");
  await expect(stat(page, "Imported suppressions")).toHaveText("5");

  // Charts are server-drawn SVG, with bars, beside tables with the same numbers.
  for (const id of [
    "chart-over-time",
    "chart-reasons",
    "chart-topics",
    "chart-sources",
    "chart-campaigns",
  ]) {
    await expect(
      page.getByTestId(id).locator("svg .recharts-bar-rectangle path").first(),
    ).toBeVisible();
  }
  expect(
    await page.getByTestId("chart-over-time").locator("svg .recharts-bar-rectangle path").count(),
  ).toBeGreaterThanOrEqual(7);
  await expect(
    page.getByRole("region", { name: /^Chart: people leaving per day, by channel/ }),
  ).toBeVisible();
  expect(await rowCells(page, "table-over-time", "2025-03-10")).toEqual([
    "2025-03-10",
    "0",
    "4",
    "0",
    "4",
  ]);
  expect(await rowCells(page, "table-over-time", "2025-03-12")).toEqual([
    "2025-03-12",
    "0",
    "0",
    "0",
    "0",
  ]);
  // People leaving, then the changes: channel unsubscribes, topic opt-outs, all.
  expect(await rowCells(page, "table-channels", "Email")).toEqual(["Email", "7", "6", "1", "7"]);
  expect(await rowCells(page, "table-channels", "SMS")).toEqual(["SMS", "6", "6", "0", "6"]);
  expect(await rowCells(page, "table-reasons", "Too frequent")).toEqual([
    "Too frequent",
    "2",
    "14.3 %",
  ]);
  expect(await rowCells(page, "table-reasons", "No reason given")).toEqual([
    "No reason given",
    "9",
    "64.3 %",
  ]);
  expect(await rowCells(page, "table-topics", "Newsletter")).toEqual(["Newsletter", "6", "42.9 %"]);
  expect(await rowCells(page, "table-sources", "Import")).toEqual(["Import", "5", "No"]);
  expect(await rowCells(page, "table-sources", "SMS reply")).toEqual(["SMS reply", "6", "Yes"]);
  const flash = await campaignCells(page, "reports-march-flash");
  expect(flash[0]).toContain("Reports March flash sale");
  expect(flash.slice(1)).toEqual([
    "SMS",
    "300",
    "6",
    "2.00 %",
    // Complaints and complaint rate: email campaigns only.
    "—",
    "—",
    "No reason given (6)",
    "over threshold",
  ]);
  const news = await campaignCells(page, "reports-march-news");
  expect(news.slice(1)).toEqual([
    "Email",
    "2,000",
    "6",
    "0.30 %",
    "0",
    "0.00 %",
    "Too frequent (2), Not relevant (1), Other (1)",
    "",
  ]);
  await expect(page.getByTestId("flagged-campaigns")).toContainText(
    "Reports March flash sale (SMS): 6 of 300 left, 2.00 %",
  );
  await expect(page.getByTestId("table-free-text")).toContainText("Too many newsletters, sorry");
  await shot(page, "reports-desktop");
  await expectNoAxeViolations(page, "reports, desktop");

  // SMS only.
  await filterMarch(page, { channel: "sms" });
  await expect(stat(page, "People leaving")).toHaveText("6");
  await expect(page.getByTestId("table-channels").locator("tbody tr")).toHaveCount(1);
  expect(await page.getByTestId("table-over-time").locator("thead th").allInnerTexts()).toEqual([
    "Day",
    "SMS",
  ]);
  await expect(page.getByTestId("table-campaigns").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByText("Nobody wrote a reason in this range.")).toBeVisible();

  // Every channel, by week (weeks start on Monday).
  await filterMarch(page, { channel: "all", granularity: "week" });
  await expect(page.getByRole("heading", { name: "People leaving per week" })).toBeVisible();
  expect(await rowCells(page, "table-over-time", "2025-03-03")).toEqual([
    "2025-03-03",
    "6",
    "0",
    "0",
    "6",
  ]);
  expect(await rowCells(page, "table-over-time", "2025-03-10")).toEqual([
    "2025-03-10",
    "1",
    "6",
    "1",
    "8",
  ]);

  // CSV of a table, with the page's filters, as a download.
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download CSV of campaigns" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe(
    `heed-unsubscribes-campaigns-${march.from}_${march.to}.csv`,
  );
  const csv = (await (await file.createReadStream()).toArray()).join("");
  expect(csv.replace(/^\uFEFF/, "").split("\r\n")[0]).toBe(
    "campaign,name,channel,topic,registered_at,sent,unsubscribes,rate_percent,flags,alert_fired_at,top_reasons",
  );
  expect(csv).toContain(
    "reports-march-flash,Reports March flash sale,sms,,2025-03-10T08:00:00.000Z,300,6,2.0000,threshold,,No reason given (6)",
  );
  const weekly = await page.request.get(
    `/admin/reports/csv/over-time?from=${march.from}&to=${march.to}&granularity=week`,
  );
  expect(weekly.status()).toBe(200);
  expect(weekly.headers()["content-type"]).toContain("text/csv");
  expect((await weekly.text()).replace(/^\uFEFF/, "")).toBe(
    "week_starting,email,sms,whatsapp,total\r\n2025-03-03,6,0,0,6\r\n2025-03-10,1,6,1,8\r\n",
  );
  const bad = await page.request.get(`/admin/reports/csv/everything?from=${march.from}`);
  expect(bad.status()).toBe(404);

  // A campaign's own page.
  await page.getByRole("link", { name: "Reports March newsletter" }).first().click();
  await expect(
    page.getByRole("heading", { level: 1, name: "Reports March newsletter" }),
  ).toBeVisible();
  await expect(stat(page, "Unsubscribe rate")).toHaveText("0.30 %");
  await expect(
    page.getByTestId("chart-daily").locator("svg .recharts-bar-rectangle path").first(),
  ).toBeVisible();
  await expect(
    page.getByRole("table", { name: "What people who left wrote, newest first" }),
  ).toContainText("Too many newsletters, sorry");
  await expectNoAxeViolations(page, "campaign page");
  await page.getByRole("link", { name: "← Reports" }).click();
  await expect(page).toHaveURL(new RegExp(`from=${march.from}&to=${march.to}&granularity=week`));

  // Bad filter values are explained, never a 500.
  const res = await page.goto("/admin/reports?from=2025-02-30&channel=fax");
  expect(res!.status()).toBe(200);
  await expect(page.getByRole("alert")).toContainText(
    "The start date is not a real date; the default is used.",
  );
  await expect(page.getByRole("alert")).toContainText("The channel");
  expect(consoleErrors).toEqual([]);
});

test("on a 360 px phone the report reads well and passes axe", async ({ browser }) => {
  const { users, march } = fx();
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
  const page = await ctx.newPage();
  await loginAs(page, users.phone);
  await page.goto(`/admin/reports?from=${march.from}&to=${march.to}`);
  await expect(stat(page, "People leaving")).toHaveText("14");
  await shot(page, "reports-360");
  // The page itself does not scroll sideways; wide charts and tables scroll in their own box.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectNoAxeViolations(page, "reports, 360 px");
  await ctx.close();
});

test("without JavaScript the filters, charts and tables work", async ({ browser }) => {
  const { users } = fx();
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  await page.goto("/admin/login");
  await page.getByLabel("Email").fill(users.nojs.email);
  await page.getByLabel("Password").fill(users.nojs.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.goto("/admin/reports");
  await filterMarch(page, { channel: "whatsapp" });
  await expect(stat(page, "People leaving")).toHaveText("1");
  await expect(
    page.getByTestId("chart-over-time").locator("svg .recharts-bar-rectangle path").first(),
  ).toBeVisible();
  expect(await rowCells(page, "table-sources", "API")).toEqual(["API", "1", "Yes"]);
  await ctx.close();
});

test("an admin checks the alerts: the recent 2 % campaign is alerted once; settings are validated and saved", async ({
  page,
}) => {
  const { users, recent } = fx();
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    // The refused form answers 400 on purpose.
    if (m.type() === "error" && !m.text().includes("status of 400")) consoleErrors.push(m.text());
  });
  await loginAs(page, users.admin, "/admin/reports/alerts");
  await expect(
    page.getByRole("heading", { level: 1, name: "Unsubscribe-rate alerts" }),
  ).toBeVisible();
  // The background task may already have fired it; "Check now" fires it if not.
  await page.getByRole("button", { name: "Check now" }).click();
  await expect(page.getByRole("status")).toContainText("Checked:");
  const rows = page
    .getByTestId("table-alerts")
    .locator("tbody tr")
    .filter({ hasText: recent.name });
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText("2.00 %");
  await expect(rows).toContainText("over threshold");
  await page.getByRole("button", { name: "Check now" }).click();
  await expect(page.getByRole("status")).toContainText("Checked:");
  await expect(page.getByRole("status")).not.toContainText(recent.name);
  await expect(rows).toHaveCount(1);

  // The dashboard says the alert went out.
  await page.goto("/admin/reports");
  await expect(page.getByTestId("flagged-campaigns")).toContainText(
    `${recent.name} (SMS): 3 of 150 left, 2.00 %`,
  );
  await expect(page.getByTestId("flagged-campaigns")).toContainText("Alert sent");

  // Settings: a bad value is refused with its reason; a good one is saved.
  await page.goto("/admin/reports/alerts");
  await page.getByLabel("Alert threshold (%)").fill("lots");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByText("Enter the threshold as a number, like 1 or 0.5.")).toBeVisible();
  await page.getByLabel("Alert threshold (%)").fill("2.5");
  await page.getByLabel("Email alerts to").fill("reports-ops@e2e.test");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toContainText("Alert settings saved.");
  await expect(page.getByLabel("Alert threshold (%)")).toHaveValue("2.5");
  await shot(page, "reports-alerts");
  await expectNoAxeViolations(page, "alerts page");
  // Put the default back for anyone else reading the dashboard.
  await page.getByLabel("Alert threshold (%)").fill("1");
  await page.getByLabel("Email alerts to").fill("");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toContainText("Alert settings saved.");
  expect(consoleErrors).toEqual([]);
});
