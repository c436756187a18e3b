import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { E2E_DIR } from "./env";
import { fixtures } from "./helpers";

/** /manage, "email me my link". */

type MailFixtures = { manage: { contactId: string; email: string } };

async function open(page: Page, path: string) {
  const res = await page.goto(path);
  await page.waitForLoadState("networkidle");
  return res;
}

async function submit(page: Page, email: string) {
  await open(page, "/manage");
  await page.getByLabel("Email address").fill(email);
  await page.getByRole("button", { name: "Send me my link" }).click();
  await expect(page.locator("main h1")).not.toHaveText("Manage your subscriptions");
  return (await page.locator("main").innerText()).replaceAll(email, "<address>");
}

test("answers the same for a known and an unknown address; only the known one gets a link, which opens the preference page", async ({
  page,
}) => {
  const { manage } = fixtures<MailFixtures>("mail");
  await open(page, "/manage");
  await expect(
    page.getByRole("heading", { level: 1, name: "Manage your subscriptions" }),
  ).toBeVisible();
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/manage.png`, fullPage: true });

  const known = await submit(page, manage.email);
  await expect(page.getByRole("heading", { level: 1, name: "Check your inbox" })).toBeVisible();
  await expectNoAxeViolations(page);
  const unknown = await submit(page, "mail-nobody@e2e.test");
  expect(unknown).toBe(known);

  await page.goto(`/dev/outbox?to=${encodeURIComponent("@e2e.test")}`);
  await expect(page.getByRole("link", { name: /mail-nobody@e2e\.test/ })).toHaveCount(0);
  await page.goto(`/dev/outbox?to=${encodeURIComponent(manage.email)}`);
  await page
    .getByRole("link", { name: /Your link to manage your .* preferences/ })
    .first()
    .click();
  const link = page.getByRole("link", { name: "Manage my preferences" });
  expect(await link.getAttribute("href")).toMatch(/\/p\/[\w-]+\.[\w-]+\.[\w-]+$/);
  await link.click();
  await expect(page.getByRole("heading", { level: 1, name: "Your preferences" })).toBeVisible();
});

test("the per-address limit kicks in after 3 requests, for a known address as for an unknown one", async ({
  page,
}) => {
  for (const email of ["mail-limit@e2e.test", "mail-limit-unknown@e2e.test"]) {
    for (let i = 0; i < 3; i++) {
      await submit(page, email);
      await expect(page.getByRole("heading", { level: 1, name: "Check your inbox" })).toBeVisible();
    }
    await submit(page, email);
    await expect(
      page.getByRole("heading", { level: 1, name: "Please wait a moment" }),
    ).toBeVisible();
  }
});

test("works on a 360 px phone, in the browser's language, with a form error for a bad address", async ({
  browser,
}) => {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 },
    locale: "de-DE",
  });
  const page = await context.newPage();
  await open(page, "/manage");
  await expect(
    page.getByRole("heading", { level: 1, name: "Abonnements verwalten" }),
  ).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await page.getByLabel("E-Mail-Adresse").fill("not an address");
  await page.getByRole("button", { name: "Link senden" }).click();
  await expect(page.getByRole("alert")).toHaveText(/gültige E-Mail-Adresse/);
  await expect(page.getByLabel("E-Mail-Adresse")).toHaveAttribute("aria-invalid", "true");
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/manage-360-de.png`, fullPage: true });
  await context.close();
});

test("works without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/manage");
  await page.getByLabel("Email address").fill("mail-nojs@e2e.test");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST"),
    page.getByRole("button", { name: "Send me my link" }).click(),
  ]);
  expect(response.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1, name: "Check your inbox" })).toBeVisible();
  await context.close();
});

async function expectNoAxeViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}
