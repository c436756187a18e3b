import AxeBuilder from "@axe-core/playwright";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { FIRST_ADMIN, loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Email provider events over real HTTP against the built server, then what an agent sees: Postmark
 * (basic auth) reports a hard bounce, the contact page shows the address as undeliverable, and
 * the agent clears it with a note, with JavaScript and without; the Email providers page lists
 * the event. Every page is axe-clean, and is shot at 360 px.
 */

type EmailFx = {
  agent: { email: string; password: string };
  contacts: Record<"js" | "nojs", { id: string; email: string }>;
};
const fx = () => fixtures<EmailFx>("email");
const AUTH = `Basic ${Buffer.from("heed-e2e:e2e-postmark-password-1").toString("base64")}`;

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

async function hardBounce(request: APIRequestContext, email: string, id: number) {
  return request.post("/webhooks/email/postmark", {
    headers: { Authorization: AUTH, "Content-Type": "application/json" },
    data: {
      RecordType: "Bounce",
      ID: id,
      Type: "HardBounce",
      TypeCode: 1,
      MessageID: `e2e-${id}`,
      Email: email,
      Description:
        "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    },
  });
}

test("Postmark's webhook refuses wrong credentials and marks a hard bounce; an agent clears it with a note", async ({
  browser,
  request,
}) => {
  test.slow();
  const { agent, contacts } = fx();
  const refused = await request.post("/webhooks/email/postmark", {
    headers: { Authorization: `Basic ${Buffer.from("heed-e2e:wrong").toString("base64")}` },
    data: { RecordType: "Bounce", ID: 1, Type: "HardBounce", Email: contacts.js.email },
  });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.code).toBe("invalid_credentials");
  const res = await hardBounce(request, contacts.js.email, 9101);
  expect(res.status()).toBe(200);
  expect(await res.json()).toMatchObject({ ok: true, accepted: 1 });
  // Postmark retries: nothing new.
  expect(await (await hardBounce(request, contacts.js.email, 9101)).json()).toMatchObject({
    accepted: 0,
    duplicates: 1,
  });

  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
  const page = await ctx.newPage();
  await loginAs(page, agent);
  await page.goto(`/admin/contacts/${contacts.js.id}`);
  const section = page.getByRole("region", { name: "Undeliverable" });
  await expect(section).toContainText(contacts.js.email);
  await expect(section).toContainText("Hard bounce reported by postmark");
  await expect(section).toContainText("550 5.1.1");
  await expectNoAxeViolations(page, "contact page with an undeliverable mark");
  await page.screenshot({
    path: test.info().outputPath("contact-undeliverable-360.png"),
    fullPage: true,
  });

  // A note is required.
  await section.getByRole("button", { name: "Clear undeliverable mark" }).click();
  await expect(section.getByLabel("Note (required)")).toBeFocused();
  await section
    .getByLabel("Note (required)")
    .fill("Mailbox recreated, confirmed by phone (ticket 5150)");
  await section.getByRole("button", { name: "Clear undeliverable mark" }).click();
  await expect(page.getByText("The undeliverable mark was cleared.")).toBeVisible();
  await expect(page.getByRole("region", { name: "Undeliverable" })).toHaveCount(0);
  const history = page.getByRole("region", { name: "History" });
  await expect(history).toContainText("Undeliverable mark cleared");
  await expect(history).toContainText("Mailbox recreated, confirmed by phone (ticket 5150)");
  await expect(history).toContainText("Marked undeliverable");
  await expect(history).toContainText("Undeliverable (hard bounce)");
  await ctx.close();
});

test("without JavaScript: the agent clears the mark with a plain form post", async ({
  browser,
  request,
}) => {
  const { agent, contacts } = fx();
  expect((await hardBounce(request, contacts.nojs.email, 9202)).status()).toBe(200);
  const ctx = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 360, height: 800 },
  });
  const page = await ctx.newPage();
  await page.goto("/admin/login");
  await page.getByLabel("Email").fill(agent.email);
  await page.getByLabel("Password").fill(agent.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.goto(`/admin/contacts/${contacts.nojs.id}`);
  const section = page.getByRole("region", { name: "Undeliverable" });
  await section.getByLabel("Note (required)").fill("Typo fixed by the customer");
  await section.getByRole("button", { name: "Clear undeliverable mark" }).click();
  await expect(page.getByText("The undeliverable mark was cleared.")).toBeVisible();
  await page.screenshot({
    path: test.info().outputPath("contact-cleared-nojs-360.png"),
    fullPage: true,
  });
  await ctx.close();
});

test("the Email providers page (admins) shows the webhook URLs and the latest events", async ({
  page,
}) => {
  await loginAs(page, FIRST_ADMIN);
  await page.getByRole("link", { name: "Email providers" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Email providers" })).toBeVisible();
  const providers = page.getByTestId("providers");
  await expect(providers).toContainText("/webhooks/email/postmark");
  await expect(providers.locator("li", { hasText: "Postmark" })).toContainText("Ready");
  await expect(providers.locator("li", { hasText: "SendGrid" })).toContainText("Not configured");
  await expect(page.getByTestId("email-events")).toContainText("Hard bounce");
  await expectNoAxeViolations(page, "email providers page");
  // Soft bounces: a bad value is refused with a message, a good one saved.
  await page.getByLabel("Soft bounces in a row").fill("1");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("At least 2.")).toBeVisible();
  await page.getByLabel("Soft bounces in a row").fill("3");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({
    path: test.info().outputPath("email-providers-360.png"),
    fullPage: true,
  });
});
