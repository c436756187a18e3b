import http from "node:http";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Data sources (issue 16.2) and the personal-data export (16.4) in Chromium, at desktop size and
 * at 360x740. The list is served by this spec's own HTTP server on 127.0.0.1 (the e2e server runs
 * with the test-only DATA_SOURCES_TEST_ALLOW_LOCAL; every other private address stays refused).
 */

type Fx = {
  admin: { email: string; password: string };
  person: { id: string; externalId: string; email: string };
};
const fx = () => fixtures<Fx>("sources");
const PORT = Number(process.env.E2E_SOURCE_PORT ?? Number(process.env.E2E_PORT ?? 3210) + 1);
const BASE = `http://127.0.0.1:${PORT}`;
const TOKEN = "e2e-source-token-7890";

let server: http.Server;
test.beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/redirect-private") {
      res.writeHead(302, { Location: "http://169.254.169.254/latest/meta-data/" });
      return res.end();
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    res.writeHead(200, { "Content-Type": "text/csv" });
    res.end(
      "email,reason,list\r\nsources-a@example.com,too frequent,spring\r\nsources-b@example.com,,spring\r\nnot an address,,spring\r\n",
    );
  });
  await new Promise<void>((r) => server.listen(PORT, "127.0.0.1", r));
});
test.afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function shots(page: Page, name: string) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: test.info().outputPath(`${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: test.info().outputPath(`${name}-360.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function addSource(page: Page, name: string, url: string) {
  await page.goto("/admin/sources");
  const form = page.getByRole("region", { name: "Add a data source" });
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("URL", { exact: true }).fill(url);
  await form.getByLabel("Type", { exact: true }).selectOption("bearer");
  await form.getByLabel("Password, token or header value").fill(TOKEN);
  await form.getByRole("button", { name: "Add and preview" }).click();
  await expect(page.getByRole("heading", { name: `Data source: ${name}` })).toBeVisible();
}

test("an admin adds a CSV source with a bearer token, maps it from a preview, and its run imports the list", async ({
  page,
}) => {
  test.slow();
  await loginAs(page, fx().admin);
  await addSource(page, "Mailkit suppressions", `${BASE}/list.csv`);
  await expect(page.getByText("Source added.")).toBeVisible();
  // The secret is never shown back: only its last characters.
  expect(await page.content()).not.toContain(TOKEN);
  await expect(page.getByText("••••••••7890").first()).toBeVisible();

  await page.getByRole("button", { name: "Fetch a preview" }).click();
  await expect(page.getByRole("cell", { name: "sources-a@example.com" })).toBeVisible();
  await expect(page.getByLabel("Address field")).toHaveValue("email");
  await expect(page.getByLabel("Reason field (optional)")).toHaveValue("reason");
  await shots(page, "source-preview");
  await page.getByRole("button", { name: "Save fields" }).click();
  await expect(page.getByText("Fields saved.")).toBeVisible();

  // Due at once: the background lane fetches it and the import pipeline imports it.
  const run = page.getByTestId("source-run").first();
  await expect(async () => {
    await page.reload();
    await expect(run).toContainText("Completed", { timeout: 500 });
  }).toPass({ timeout: 40_000 });
  await expect(run).toContainText("scheduled");
  await expect(run.locator("td").nth(2)).toHaveText("3");
  await expect(run.locator("td").nth(3)).toHaveText("2");
  await expect(run.locator("td").nth(5)).toHaveText("1");

  // Run by hand: nothing new (already suppressed).
  await page.getByRole("button", { name: "Run now" }).click();
  await expect(page.getByText("Run requested")).toBeVisible();
  await expect(async () => {
    await page.reload();
    const manual = page.getByTestId("source-run").first();
    await expect(manual).toContainText("by hand", { timeout: 500 });
    await expect(manual).toContainText("Completed", { timeout: 500 });
  }).toPass({ timeout: 40_000 });
  await expect(page.getByTestId("source-run").first().locator("td").nth(4)).toHaveText("2");
  await shots(page, "source-detail");

  await page.goto("/admin/sources");
  await expect(page.getByRole("link", { name: "Mailkit suppressions" })).toBeVisible();
  await shots(page, "sources-list");
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((v) => v.id)).toEqual([]);
});

test("a redirect to a private address is refused, and the page says why", async ({ page }) => {
  await loginAs(page, fx().admin);
  await addSource(page, "Redirecting source", `${BASE}/redirect-private`);
  await page.getByRole("button", { name: "Fetch a preview" }).click();
  await expect(
    page.getByText(/The preview failed: A redirect to 169\.254\.169\.254 was refused/),
  ).toBeVisible();
  await shots(page, "source-refused");
});

test("the export of a contact's personal data reads in their language (Czech), and is reached from the contact page", async ({
  page,
}) => {
  await loginAs(page, fx().admin);
  await page.goto(`/admin/contacts/${fx().person.id}`);
  await page.getByTestId("contact-export").click();
  await expect(
    page.getByRole("heading", { name: "Osobní údaje, které o vás uchováváme" }),
  ).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "cs");
  await expect(page.getByRole("heading", { name: "Historie souhlasů" })).toBeVisible();
  await expect(page.getByText("Odhlášení").first()).toBeVisible();
  // A table on a desktop, a card per row on a phone.
  const evidence = page.getByText("IP adresa 198.51.100.23", { exact: false });
  await expect(evidence.first()).toBeVisible();
  await page.setViewportSize({ width: 360, height: 740 });
  await expect(evidence.last()).toBeVisible();
  await expect(evidence.first()).toBeHidden();
  await page.setViewportSize({ width: 1280, height: 900 });
  await expect(page.getByText("Důvod: Dostávám příliš mnoho zpráv").first()).toBeVisible();
  await expect(page.getByRole("heading", { name: "Ověření" })).toBeVisible();
  await shots(page, "export-cs");
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.map((v) => v.id)).toEqual([]);
  // The machine-readable copy.
  const res = await page.request.get(`/admin/contacts/${fx().person.id}/export.json`);
  expect(res.status()).toBe(200);
  const body = (await res.json()) as { format: string; contact: { external_id: string } };
  expect(body).toMatchObject({
    format: "heed.subject-export.v1",
    contact: { external_id: fx().person.externalId },
  });
});
