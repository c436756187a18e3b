import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * The import preview in Chromium, with files made by LibreOffice (tests/fixtures/imports): a
 * Czech operator (browser in Czech) uploads the Windows-1250 CSV that Czech Excel writes, sees the
 * detected encoding, the columns (address, reason) and the first rows with the Czech text intact,
 * tries another encoding and goes back, remaps the reason column, and confirms; then phone numbers
 * without a country code, the default country set on the Phone numbers page, and a legacy XLS.
 * Screenshots at desktop size and at 360×740.
 */

type Fx = { admin: { email: string; password: string } };
const fx = () => fixtures<Fx>("import-preview");
const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/imports");

test.describe.configure({ mode: "serial" });

async function shots(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: test.info().outputPath(`${name}-360.png`), fullPage: true });
  await page.screenshot({ path: test.info().outputPath(`${name}-360-fold.png`) });
  if (size) await page.setViewportSize(size);
}

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

const count = (page: Page, name: string) => page.locator(`[data-count="${name}"]`);
const rows = (page: Page) => page.getByTestId("preview-rows").locator("tbody tr");

test("a Czech operator previews a Windows-1250 CSV, tries another encoding, remaps and confirms", async ({
  browser,
}) => {
  test.slow();
  const context = await browser.newContext({
    locale: "cs-CZ",
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  await loginAs(page, fx().admin);
  await page.goto("/admin/imports");
  await expect(
    page.getByRole("heading", { level: 1, name: "Import odhlášených adres" }),
  ).toBeVisible();
  await page
    .getByLabel("Soubor (CSV, XLSX, ODS nebo XLS")
    .setInputFiles(path.join(FIXTURES, "cs-emails.libreoffice.windows-1250.csv"));
  await page.getByRole("button", { name: "Nahrát a zobrazit náhled" }).click();

  await expect(page).toHaveURL(/\/admin\/imports\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Náhled:");
  await expect(page.getByTestId("encoding")).toContainText("Windows-1250 (středoevropské)");
  await expect(page.getByTestId("encoding")).toContainText("zjištěno");
  await expect(page.locator('th[data-role="adresa"]')).toContainText("E-mail");
  await expect(page.locator('th[data-role="důvod"]')).toContainText("Důvod odhlášení");
  await expect(rows(page).first()).toContainText("Příliš často");
  await expect(rows(page).first()).toContainText("jana.novakova@example.cz");
  await expect(count(page, "valid")).toHaveText("4");
  await expect(count(page, "invalid")).toHaveText("1");
  await expect(page.locator('tr[data-valid="false"]')).toContainText("neplatná e-mailová adresa");
  await expectNoAxeViolations(page, "preview");
  await shots(page, "preview-cs");

  // Another encoding: the operator sees the letters go wrong, and goes back.
  await page.getByLabel("Kódování textu").selectOption("windows-1252");
  await page.getByRole("button", { name: "Znovu zobrazit náhled" }).click();
  await expect(rows(page).first()).toContainText("Pøíliš èasto");
  await expect(page.getByTestId("encoding")).toContainText("vaše volba");
  await shots(page, "preview-cs-1252");
  await page.getByLabel("Kódování textu").selectOption("windows-1250");
  await page.getByRole("button", { name: "Znovu zobrazit náhled" }).click();
  await expect(rows(page).first()).toContainText("Příliš často");

  // Remap: no reason column, then the reason column again (by its letter and name).
  await page.getByLabel("Sloupec s důvodem").selectOption("");
  await page.getByRole("button", { name: "Znovu zobrazit náhled" }).click();
  await expect(page.locator('th[data-role="důvod"]')).toHaveCount(0);
  await page.getByLabel("Sloupec s důvodem").selectOption({ label: "C · Důvod odhlášení" });
  await page.getByRole("button", { name: "Znovu zobrazit náhled" }).click();
  await expect(page.locator('th[data-role="důvod"]')).toContainText("Důvod odhlášení");

  await page.getByRole("button", { name: "Potvrdit a importovat" }).click();
  await expect(page.locator('[data-status="completed"]')).toBeVisible({ timeout: 30_000 });
  await expect(count(page, "imported")).toHaveText("4");
  await expect(count(page, "invalid")).toHaveText("1");
  await shots(page, "preview-cs-done");
  expect(consoleErrors).toEqual([]);
  await context.close();
});

test("phone numbers without a country code: the preview asks for it, the default country is set, an XLSX and an XLS are imported", async ({
  page,
}) => {
  test.slow();
  await page.setViewportSize({ width: 360, height: 740 });
  await loginAs(page, fx().admin);
  await page.goto("/admin/imports");
  await page
    .getByLabel("File (CSV, XLSX, ODS or XLS")
    .setInputFiles(path.join(FIXTURES, "cs-phones.libreoffice.xlsx"));
  await page.getByLabel("Channel", { exact: true }).selectOption("sms");
  await page.getByRole("button", { name: "Upload and preview" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Preview:");
  const preview = page.url();
  // Numeric cells read in full; 420… and 00420… without "+" are international numbers.
  await expect(rows(page).nth(0)).toContainText("+420777111222");
  await expect(rows(page).nth(1)).toContainText("+420777111223");
  await expect(rows(page).nth(3)).toContainText("add the country code");
  await expect(page.getByText("Some phone numbers have no country code.")).toBeVisible();
  await expect(count(page, "valid")).toHaveText("3");
  await expect(count(page, "invalid")).toHaveText("2");
  await page.screenshot({ path: test.info().outputPath("phones-preview-360-fold.png") });
  await page.screenshot({
    path: test.info().outputPath("phones-preview-360.png"),
    fullPage: true,
  });

  await page.getByRole("link", { name: "Change the default country" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Phone numbers" })).toBeVisible();
  await expectNoAxeViolations(page, "phone numbers page");
  await page.getByRole("combobox", { name: "Default country" }).selectOption("CZ");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await page.screenshot({
    path: test.info().outputPath("phone-numbers-360.png"),
    fullPage: true,
  });

  await page.goto(preview);
  await expect(rows(page).nth(3)).toContainText("+420777111225");
  await expect(count(page, "valid")).toHaveText("4");
  await expect(count(page, "invalid")).toHaveText("1");
  await page.getByRole("button", { name: "Confirm and import" }).click();
  await expect(page.locator('[data-status="completed"]')).toBeVisible({ timeout: 30_000 });
  await expect(count(page, "imported")).toHaveText("4");

  // A legacy XLS made by LibreOffice, on WhatsApp.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/admin/imports");
  await page
    .getByLabel("File (CSV, XLSX, ODS or XLS")
    .setInputFiles(path.join(FIXTURES, "cs-phones.libreoffice.xls"));
  await page.getByLabel("Channel", { exact: true }).selectOption("whatsapp");
  await page.getByRole("button", { name: "Upload and preview" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("cs-phones.libreoffice.xls");
  await expect(rows(page).nth(1)).toContainText("Nezajímá mě to");
  await expect(page.locator('th[data-role="reason"]')).toContainText("Důvod");
  await page.screenshot({ path: test.info().outputPath("xls-preview.png"), fullPage: true });
  await page.getByRole("button", { name: "Confirm and import" }).click();
  await expect(page.locator('[data-status="completed"]')).toBeVisible({ timeout: 30_000 });
  await expect(count(page, "imported")).toHaveText("4");

  // Back to no default country (other tests expect numbers without one to be refused).
  await page.goto("/admin/phone-numbers");
  await page.getByRole("combobox", { name: "Default country" }).selectOption("");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
});
