import fs from "node:fs";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import ExcelJS from "exceljs";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";
import { zipBuffer } from "../integration/import-files";

/**
 * Bulk import, export and erasure in Chromium: an admin uploads files with and without
 * JavaScript and watches the progress to the end, downloads the error report, re-imports,
 * is refused a zip bomb and an unknown format, exports the suppressions, and erases a contact.
 */

type Fx = {
  admin: { email: string; password: string };
  erase: { id: string; email: string; phone: string; externalId: string };
};
const fx = () => fixtures<Fx>("imports");

test.describe.configure({ mode: "serial" });

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

// 120 good rows, a duplicate in another case, two invalid and one empty address.
const VALID = Array.from({ length: 120 }, (_, i) => `imports-e2e-${i}@example.com`);
const CSV =
  "\uFEFFE-mail;Reason;Name\r\n" +
  VALID.map(
    (a, i) =>
      `${i === 3 ? a.toUpperCase() : a};${i % 2 ? "too_frequent" : "Switched providers"};P${i}`,
  ).join("\r\n") +
  "\r\nIMPORTS-E2E-0@EXAMPLE.COM;;again\r\nnot an address;;x\r\n;;no address\r\nimports-e2e@bad;;y\r\n";
const EXPECTED_REPORT =
  "line,value,error\r\n123,not an address,invalid_email\r\n124,,empty\r\n125,imports-e2e@bad,invalid_email\r\n";

/** Uploads a file; unless `preview` is asked for, confirms the preview that follows. */
async function upload(
  page: Page,
  file: { name: string; mimeType: string; buffer: Buffer },
  note?: string,
  options: { confirm?: boolean } = {},
) {
  await page.goto("/admin/imports");
  await page.getByLabel("File (CSV, XLSX, ODS or XLS").setInputFiles(file);
  if (note) await page.getByLabel("Note").fill(note);
  await page.getByRole("button", { name: "Upload and preview" }).click();
  if (options.confirm === false) return;
  const confirm = page.getByRole("button", { name: "Confirm and import" });
  const refused = page.locator("#file-error");
  await expect(confirm.or(refused)).toBeVisible();
  if (await confirm.isVisible()) await confirm.click();
}

const count = (page: Page, name: string) => page.locator(`[data-count="${name}"]`);
/** The job page's status badge, once the upload has landed there. */
async function expectJobDone(page: Page) {
  await expect(page).toHaveURL(/\/admin\/imports\/[0-9a-f-]{36}$/);
  await expect(
    page.getByRole("region", { name: "Progress" }).locator('[data-status="completed"]'),
  ).toBeVisible({ timeout: 30_000 });
}

test("an admin imports a CSV: the progress page updates itself to the end, with exact counts and error report; a re-import changes nothing", async ({
  page,
}) => {
  test.slow();
  await loginAs(page, fx().admin);
  await page.goto("/admin/imports");
  await expect(page.getByRole("heading", { level: 1, name: "Import suppressions" })).toBeVisible();
  await expectNoAxeViolations(page, "imports page");
  await shot(page, "imports");

  await upload(
    page,
    { name: "e2e-list.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) },
    "e2e import",
  );
  // The page polls while the job runs (JavaScript on): no reload needed to see it finish.
  await expectJobDone(page);
  await expect(count(page, "rows_read")).toHaveText("124");
  await expect(count(page, "imported")).toHaveText("120");
  await expect(count(page, "already_suppressed")).toHaveText("0");
  await expect(count(page, "duplicates")).toHaveText("1");
  await expect(count(page, "invalid")).toHaveText("3");
  await expect(page.getByText("Done. Addresses suppressed: 120.")).toBeVisible();
  await expect(page.getByRole("region", { name: "Error report" })).toContainText("not an address");
  await expectNoAxeViolations(page, "import progress page");
  await shot(page, "import-done");
  await page.setViewportSize({ width: 360, height: 800 });
  await shot(page, "import-done-360");
  await page.setViewportSize({ width: 1280, height: 800 });

  const report = page.getByRole("link", { name: "Download error report (CSV)" });
  const response = await page.request.get((await report.getAttribute("href"))!);
  expect(response.headers()["content-type"]).toMatch(/^text\/csv/);
  expect(await response.text()).toBe(EXPECTED_REPORT);

  // The same file again: nothing changes, and the page says so.
  await upload(page, { name: "e2e-list.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  await expectJobDone(page);
  await expect(
    page.getByText("Nothing changed: every valid address in this file was already suppressed."),
  ).toBeVisible();
  await expect(count(page, "imported")).toHaveText("0");
  await expect(count(page, "already_suppressed")).toHaveText("120");

  await page.goto("/admin/imports");
  await expect(page.getByRole("link", { name: "e2e-list.csv" })).toHaveCount(2);
});

test("without JavaScript an XLSX upload works and the progress page refreshes itself until the import is done", async ({
  browser,
}) => {
  test.slow();
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await loginAs(page, fx().admin);
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("List");
  ws.addRow(["Phone", "Channel"]);
  ws.addRow(["+48 601 444 001", "sms"]);
  ws.addRow(["+48 601 444 002", "whatsapp"]);
  ws.addRow(["+48 601 444 003", "fax"]);
  const buffer = Buffer.from(await wb.xlsx.writeBuffer());
  await page.goto("/admin/imports");
  await page.getByLabel("File (CSV, XLSX, ODS or XLS").setInputFiles({
    name: "phones.xlsx",
    mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    buffer,
  });
  await page.getByLabel("Channel").selectOption("file");
  await page.getByRole("button", { name: "Upload and preview" }).click();
  await expect(page).toHaveURL(/\/admin\/imports\/[0-9a-f-]{36}$/);
  // The preview works without JavaScript too: plain forms.
  await expect(page.locator('[data-count="valid"]')).toHaveText("2");
  await page.getByRole("button", { name: "Confirm and import" }).click();
  await expect(page).toHaveURL(/\/admin\/imports\/[0-9a-f-]{36}$/);
  const html = await page.content();
  if (!html.includes('data-status="completed"')) {
    // Still running: the page asks the browser to reload it (no script needed).
    expect(html).toMatch(/<meta http-equiv="refresh" content="2"/);
  }
  await expect(page.locator('[data-status="completed"]')).toBeVisible({ timeout: 30_000 });
  await expect(count(page, "imported")).toHaveText("2");
  await expect(count(page, "invalid")).toHaveText("1");
  await expect(page.getByRole("region", { name: "Error report" })).toContainText("unknown channel");
  expect(await page.content()).not.toMatch(/http-equiv="refresh"/);
  await context.close();
});

test("a zip bomb and an unknown format are refused on the form with a clear message; a file without addresses asks for the column", async ({
  page,
}) => {
  await loginAs(page, fx().admin);
  const bomb = zipBuffer([
    { name: "[Content_Types].xml", data: "<Types/>" },
    { name: "xl/workbook.xml", data: "<workbook/>" },
    { name: "xl/worksheets/sheet1.xml", data: Buffer.alloc(48 * 1024 * 1024, 0x20) },
  ]);
  await upload(page, { name: "bomb.xlsx", mimeType: "application/octet-stream", buffer: bomb });
  await expect(page.getByRole("alert")).toContainText("The file was not imported.");
  await expect(page.locator("#file-error")).toContainText(
    "Refused as a possible zip bomb: xl/worksheets/sheet1.xml expands",
  );
  await expect(page.getByLabel("File (CSV, XLSX, ODS or XLS")).toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expect(page).toHaveURL(/\/admin\/imports(\?|$)/);

  await upload(page, {
    name: "report.pdf",
    mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.4\n\0\0\0binary"),
  });
  await expect(page.locator("#file-error")).toContainText("Unknown format");

  await expectNoAxeViolations(page, "imports page with an error");
  await shot(page, "import-refused");

  // A file without addresses gets a preview that asks for the address column.
  await upload(
    page,
    {
      name: "people.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("name,city\nAda,London\nAlan,Wilmslow\n"),
    },
    undefined,
    { confirm: false },
  );
  await expect(page.getByText("No address column was found.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Confirm and import" })).toBeDisabled();
  await page.getByRole("button", { name: "Cancel and delete the file" }).click();
  await expect(page.getByText("The import was cancelled and its file deleted.")).toBeVisible();
});

test("an admin exports the suppressions as CSV, filtered by channel and source", async ({
  page,
}) => {
  await loginAs(page, fx().admin);
  await page.goto("/admin/exports");
  await expect(page.getByRole("heading", { level: 1, name: "Export suppressions" })).toBeVisible();
  await expectNoAxeViolations(page, "exports page");
  await shot(page, "exports");
  await page.setViewportSize({ width: 360, height: 800 });
  await shot(page, "exports-360");
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByLabel("Channel").selectOption("email");
  await page.getByLabel("Source").selectOption("import");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^suppressions-email-import-\d{4}-\d\d-\d\d\.csv$/);
  const text = fs.readFileSync((await download.path())!, "utf8");
  // A byte order mark first (Excel then reads UTF-8), and the punycode form of each address last.
  expect(text.startsWith("\uFEFF")).toBe(true);
  const lines = text.slice(1).trim().split("\r\n");
  expect(lines[0]).toBe(
    "address,channel,date,source,reason,reason_text,campaign,note,address_ascii",
  );
  const ours = lines.filter((l) => l.startsWith("imports-e2e-"));
  expect(ours).toHaveLength(120);
  expect(ours.find((l) => l.startsWith("imports-e2e-1@"))).toMatch(
    /^imports-e2e-1@example\.com,email,\d{4}-.+Z,import,too_frequent,,,e2e import,imports-e2e-1@example\.com$/,
  );
  expect(ours.find((l) => l.startsWith("imports-e2e-0@"))).toMatch(
    /,import,,Switched providers,,e2e import,imports-e2e-0@example\.com$/,
  );
  expect(text).not.toContain("+48601444001"); // SMS, not in an email export

  // A bad range goes back to the form with the reason.
  await page.goto("/admin/exports/suppressions.csv?from=2026-02-01&to=2026-01-01");
  await expect(page).toHaveURL(/\/admin\/exports\?/);
  await expect(page.getByText("The start date is after the end date.")).toBeVisible();
});

test("an admin erases a contact: its data is gone from its page and from the export, and its address stays suppressed", async ({
  page,
}) => {
  const { erase } = fx();
  await loginAs(page, fx().admin);
  await page.goto(`/admin/contacts/${erase.id}`);
  await page.getByRole("link", { name: "Erase personal data" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Erase personal data" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Contact" })).toContainText(erase.email);
  await expectNoAxeViolations(page, "erase page");
  await shot(page, "erase");
  await page.setViewportSize({ width: 360, height: 800 });
  await shot(page, "erase-360");
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByRole("button", { name: "Erase personal data" }).click();
  await expect(page.getByText("Tick the box to confirm.")).toBeVisible();
  await page.getByLabel("I understand that this erases this person's data for good.").check();
  await page.getByRole("button", { name: "Erase personal data" }).click();
  await expect(page.getByText("Personal data erased.")).toBeVisible();
  await expect(page.getByRole("region", { name: "Contact" })).not.toContainText(erase.email);
  await shot(page, "erase-done");

  await page.goto(`/admin/contacts/${erase.id}`);
  await expect(
    page.getByRole("region", { name: "Details" }).getByText("Erased", { exact: true }),
  ).toBeVisible();
  await expect(page.locator("main")).not.toContainText(erase.email);

  // Still suppressed: a re-import of the address finds it already suppressed.
  await upload(page, {
    name: "again.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`email\n${erase.email.toUpperCase()}\n`),
  });
  await expectJobDone(page);
  await expect(count(page, "already_suppressed")).toHaveText("1");
  await expect(count(page, "imported")).toHaveText("0");

  const response = await page.request.get("/admin/exports/suppressions.csv");
  expect(await response.text()).not.toContain(erase.email);
});
