import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { E2E_DIR } from "./env";
import { fixtures } from "./helpers";

/**
 * Double opt-in, end to end: unsubscribe → re-enable on the preference page → the
 * confirmation arrives in the development outbox → opening its link (GET) changes nothing → the
 * button confirms → the channel is subscribed, and the ledger shows both events.
 */

type Person = {
  contactId: string;
  email: string;
  preferencesPath: string;
  unsubscribePath: string;
};
type MailFixtures = {
  deadOutboxId: number;
  doi: Person;
  mobile: Person;
  expired: { contactId: string; email: string; confirmPath: string };
  nojs: { contactId: string; email: string; confirmPath: string };
};

async function expectNoAxeViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

/** Opens a page and waits until Remix has hydrated it (its forms then submit with fetch). */
async function open(page: Page, path: string) {
  const res = await page.goto(path);
  await page.waitForLoadState("networkidle");
  return res;
}

async function emailState(page: Page, path: string) {
  await open(page, path);
  return (await page.getByTestId("ch-email-state").textContent())?.trim();
}

/** The newest message to `to` in /dev/outbox whose subject matches; returns the confirm link. */
async function confirmLinkFromDevOutbox(page: Page, to: string, subject: RegExp, button: string) {
  await page.goto(`/dev/outbox?to=${encodeURIComponent(to)}`);
  await page.getByRole("link", { name: subject }).first().click();
  await expect(page.getByRole("heading", { level: 1, name: subject })).toBeVisible();
  const link = page.getByRole("link", { name: button });
  await expect(link).toBeVisible();
  const href = await link.getAttribute("href");
  expect(href).toMatch(/\/c\/[\w-]+\.[\w-]+\.[\w-]+$/);
  // The plain-text part carries the same link.
  await expect(page.locator("pre a", { hasText: href! })).toHaveCount(1);
  return href!;
}

test("unsubscribe, re-enable on the preference page, confirm from the emailed link: subscribed, with the ledger", async ({
  page,
}) => {
  const { doi } = fixtures<MailFixtures>("mail");

  // 1. Unsubscribe.
  await open(page, doi.unsubscribePath);
  await page.getByRole("button", { name: "Unsubscribe" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "You are unsubscribed" })).toBeVisible();
  expect(await emailState(page, doi.preferencesPath)).toBe("Unsubscribed");

  // 2. Re-enable on the preference page (everything is unsubscribed: its done state offers the
  // way back): a confirmation is sent, the channel stays unsubscribed.
  await page.getByRole("button", { name: "Receive emails again" }).click();
  await expect(page.getByText(`we sent a confirmation to ${doi.email}`)).toBeVisible();
  expect(await emailState(page, doi.preferencesPath)).toBe("Unsubscribed");
  await expect(page.getByText("We sent a confirmation to this address.")).toBeVisible();

  // 3. The confirmation, in the development outbox.
  const href = await confirmLinkFromDevOutbox(
    page,
    doi.email,
    /Please confirm: emails from/,
    "Yes, subscribe me",
  );
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-dev-outbox.png`, fullPage: true });

  // 4. Opening the link (GET, as a mail scanner would) changes nothing.
  const opened = await page.goto(href);
  expect(opened!.status()).toBe(200);
  expect(opened!.headers()["cache-control"]).toBe("no-store");
  // (The header may be sent twice, by the server and by the page; every value must be no-referrer.)
  const policy = opened!.headers()["referrer-policy"] ?? "";
  const policies = policy.split(/[,\n]/).map((v) => v.trim());
  expect(new Set(policies)).toEqual(new Set(["no-referrer"]));
  await expect(
    page.getByRole("heading", { level: 1, name: "Confirm your subscription" }),
  ).toBeVisible();
  await expect(page.getByText(`at ${doi.email} again`)).toBeVisible();
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-confirm.png`, fullPage: true });
  await page.goto(href);
  expect(await emailState(page, doi.preferencesPath)).toBe("Unsubscribed");

  // 5. The button confirms.
  await open(page, href);
  await page.getByRole("button", { name: "Confirm my subscription" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: "You are subscribed again" }),
  ).toBeVisible();
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-confirmed.png`, fullPage: true });
  await page.getByRole("link", { name: "Manage your preferences" }).click();
  await expect(page.getByTestId("ch-email-state")).toHaveText("Subscribed");

  // The link has done its job: opening it again says so and changes nothing.
  await page.goto(href);
  await expect(page.getByRole("heading", { level: 1, name: "Already confirmed" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Confirm my subscription" })).toHaveCount(0);

  // 6. The ledger (admin contact page) shows both events: the unsubscribe and the confirmed re-subscription.
  await open(page, `/admin/contacts/${doi.contactId}`);
  await page.getByLabel("Email").fill("admin@e2e.test");
  await page.getByLabel("Password").fill("e2e-admin-password-1");
  await page.getByRole("button", { name: "Log in" }).click();
  const timeline = page.locator("table", {
    has: page.locator("caption", { hasText: "Consent history" }),
  });
  const resubscribed = timeline
    .locator("tr", { hasText: "Subscribed" })
    .filter({ hasText: "Double opt-in" });
  await expect(resubscribed).toHaveCount(1);
  await expect(resubscribed).toContainText("127.0.0.1");
  const unsubscribed = timeline
    .locator("tr", { hasText: "Unsubscribed" })
    .filter({ hasText: "link" });
  await expect(unsubscribed).toHaveCount(1);
});

test("re-subscribing from the unsubscribe page: a Polish confirmation on a 360 px phone; a tampered link changes nothing", async ({
  page,
}) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const { mobile } = fixtures<MailFixtures>("mail");
  await open(page, mobile.unsubscribePath);
  await page.getByRole("button", { name: "Wypisz mnie" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Wypisano Cię" })).toBeVisible();
  await page.getByRole("button", { name: "Zapisz mnie ponownie" }).click();
  await expect(page.getByText(`Wysłaliśmy potwierdzenie na ${mobile.email}`)).toBeVisible();

  const href = await confirmLinkFromDevOutbox(
    page,
    mobile.email,
    /Potwierdź: e-maile od/,
    "Tak, zapisz mnie",
  );
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-dev-outbox-360-pl.png`, fullPage: true });

  // Tampered: the friendly token error page, 400, with the "email me a new link" form (in the
  // browser's language: a tampered token's contact is not trusted).
  const tampered = await page.goto(`${href.slice(0, -3)}abc`);
  expect(tampered!.status()).toBe(400);
  await expect(page.getByRole("button", { name: "Send me a new link" })).toBeVisible();

  await open(page, href);
  await expect(
    page.getByRole("heading", { level: 1, name: "Potwierdź subskrypcję" }),
  ).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-confirm-360-pl.png`, fullPage: true });
  await page.getByRole("button", { name: "Potwierdzam subskrypcję" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: "Subskrypcja wznowiona" }),
  ).toBeVisible();
  await page.screenshot({ path: `${E2E_DIR}-artifacts/doi-confirmed-360-pl.png`, fullPage: true });
});

test("an expired confirmation link confirms nothing (410) and can ask for a new confirmation", async ({
  page,
}) => {
  const { expired } = fixtures<MailFixtures>("mail");
  const res = await open(page, expired.confirmPath);
  expect(res!.status()).toBe(410);
  await expect(
    page.getByRole("heading", { level: 1, name: "This confirmation link has expired" }),
  ).toBeVisible();
  await expect(page.getByRole("button", { name: "Confirm my subscription" })).toHaveCount(0);
  await expectNoAxeViolations(page);
  await page.getByRole("button", { name: "Send me a new confirmation" }).click();
  await expect(page.getByText(`We sent a new confirmation to ${expired.email}`)).toBeVisible();

  // The new confirmation works.
  const href = await confirmLinkFromDevOutbox(
    page,
    expired.email,
    /Please confirm: emails from/,
    "Yes, subscribe me",
  );
  expect(href).not.toContain(expired.confirmPath);
  await open(page, href);
  await page.getByRole("button", { name: "Confirm my subscription" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: "You are subscribed again" }),
  ).toBeVisible();
});

test("the confirmation page works without JavaScript, in the contact's language", async ({
  browser,
}) => {
  const { nojs } = fixtures<MailFixtures>("mail");
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(nojs.confirmPath);
  await expect(
    page.getByRole("heading", { level: 1, name: "Confirmez votre abonnement" }),
  ).toBeVisible();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST"),
    page.getByRole("button", { name: "Confirmer mon abonnement" }).click(),
  ]);
  expect(response.status()).toBe(200);
  await expect(
    page.getByRole("heading", { level: 1, name: /Vous êtes à nouveau abonné/ }),
  ).toBeVisible();
  await context.close();
});

test("admins see dead outbox messages and retry one; the worker then delivers it", async ({
  page,
}) => {
  const { deadOutboxId } = fixtures<MailFixtures>("mail");
  await open(page, "/admin/outbox");
  await page.getByLabel("Email").fill("admin@e2e.test");
  await page.getByLabel("Password").fill("e2e-admin-password-1");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Outbox" })).toBeVisible();
  const row = page.locator(`tr[data-outbox-id="${deadOutboxId}"]`);
  await expect(row).toContainText("mail-dead@e2e.test");
  await expect(row).toContainText("attempt 8: SMTP: connection refused");
  await expectNoAxeViolations(page);
  await page.screenshot({ path: `${E2E_DIR}-artifacts/admin-outbox.png`, fullPage: true });
  await row.getByRole("button", { name: `Retry message #${deadOutboxId}` }).click();
  await expect(
    page.getByText(`Message #${deadOutboxId} will be delivered again shortly.`),
  ).toBeVisible();
  // The dead list no longer holds it; within a few polls the worker has sent it (development outbox).
  await expect(page.locator(`tr[data-outbox-id="${deadOutboxId}"]`)).toHaveCount(0);
  await expect(async () => {
    await page.goto(`/admin/outbox?status=sent`);
    await expect(page.locator(`tr[data-outbox-id="${deadOutboxId}"]`)).toContainText(
      "attempt 1 of",
    );
  }).toPass({ timeout: 15_000 });
});
