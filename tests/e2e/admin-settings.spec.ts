import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Settings pages in Chromium: each renders for an admin, passes axe, works without JavaScript and
 * answers bad input with a clear message. (Successful topic and reason edits are covered by the
 * integration tests: in this shared e2e server they would change other features' pages.)
 */
type User = { email: string; password: string };
const fx = () => fixtures<{ users: Record<string, User> }>("admin");

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

test("topics, reasons and branding pages render, pass axe and refuse bad input without saving it", async ({
  page,
}) => {
  test.slow(); // five pages with axe
  await loginAs(page, fx().users.settings!);

  await page
    .getByRole("navigation", { name: "Admin" })
    .getByRole("link", { name: "Topics" })
    .click();
  await expect(page.getByRole("heading", { level: 1, name: "Topics" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Newsletter" })).toBeVisible();
  await expectNoAxeViolations(page, "topics");
  await shot(page, "topics");

  await page.getByRole("link", { name: "New topic" }).click();
  await page.getByLabel("Key").fill("Not A Key");
  await page.getByLabel("Name (English)").fill("Bad key topic");
  await page.getByLabel("Name (Polish)").fill("Zły klucz");
  await page.getByLabel("Key").evaluate((el) => el.removeAttribute("pattern"));
  await page.getByRole("button", { name: "Create topic" }).click();
  await expect(page.getByRole("alert")).toContainText("Please correct");
  await expect(page.getByText(/Use lower-case letters, digits, - and _/)).toBeVisible();
  // What was typed is kept.
  await expect(page.getByLabel("Name (Polish)")).toHaveValue("Zły klucz");
  await expectNoAxeViolations(page, "new topic with errors");
  await shot(page, "topic-new-error");

  await page.goto("/admin/topics/newsletter");
  await expect(page.getByRole("heading", { level: 1, name: "Newsletter" })).toBeVisible();
  await expect(page.getByLabel("Name (German)")).toHaveValue("Newsletter");
  await page.getByLabel("Name (English)").evaluate((el) => el.removeAttribute("required"));
  await page.getByLabel("Name (English)").fill("");
  await page.getByRole("button", { name: "Save topic" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await expect(page.getByText("The English name is required.")).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Name (English)")).toHaveValue("Newsletter");
  await expectNoAxeViolations(page, "edit topic");

  await page.goto("/admin/reasons");
  await expect(page.getByRole("heading", { level: 1, name: "Unsubscribe reasons" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Add a reason" })).toBeVisible();
  await expectNoAxeViolations(page, "reasons");
  await shot(page, "reasons");

  await page.goto("/admin/suppressions?address=admin-story%40e2e.test");
  await expect(page.getByRole("region", { name: "State of admin-story@e2e.test" })).toBeVisible();
  await expectNoAxeViolations(page, "suppressions");

  await page.goto("/admin/branding");
  await page.getByLabel("Logo URL").evaluate((el) => el.setAttribute("type", "text"));
  await page.getByLabel("Logo URL").fill("javascript:alert(1)");
  await page.getByRole("button", { name: "Save branding" }).click();
  await expect(page.getByRole("alert")).toContainText("Please correct");
  await page.reload();
  await expect(page.getByLabel("Logo URL")).toHaveValue("");
  await expectNoAxeViolations(page, "branding");
  await shot(page, "branding");
});

test("an admin creates an agent with a generated password (shown once), who can log in until disabled", async ({
  page,
  browser,
}) => {
  test.slow(); // argon2 hashing and two browser contexts
  await loginAs(page, fx().users.settings!);
  await page.goto("/admin/users");
  const email = "admin-created-agent@e2e.test";
  const create = page.getByRole("region", { name: "Create a user" });
  await create.getByLabel("Email").fill(email);
  await create.getByLabel("Name (optional)").fill("Created Agent");
  await create.getByLabel("Role").selectOption("agent");
  await create.getByRole("button", { name: "Create user" }).click();
  await expect(
    page.getByRole("status").filter({ hasText: `Created agent ${email}.` }),
  ).toBeVisible();
  const password = (await page.locator("code.select-all").textContent())!.trim();
  expect(password.length).toBeGreaterThanOrEqual(16);
  await expectNoAxeViolations(page, "users");
  await shot(page, "users-created");

  const other = await browser.newContext();
  const agent = await other.newPage();
  await loginAs(agent, { email, password });
  const refused = await agent.goto("/admin/users");
  expect(refused!.status()).toBe(403);
  await expect(agent.getByRole("heading", { level: 1, name: "Not allowed" })).toBeVisible();
  await expect(agent.getByText("You do not have permission to do this.")).toBeVisible();

  await page.goto("/admin/users");
  const row = page.locator(`tr[data-user="${email}"]`);
  await row.getByRole("button", { name: `Disable ${email}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "User disabled" })).toBeVisible();
  await expect(page.locator(`tr[data-user="${email}"]`)).toContainText("disabled");

  await agent.goto("/admin/contacts");
  await expect(agent).toHaveURL(/\/admin\/login/);
  await other.close();

  await page.goto("/admin/audit?action=user.");
  await expect(
    page.locator('tr[data-audit-action="user.create"]').filter({ hasText: "admin-created-agent" }),
  ).toHaveCount(1);
  await expect(
    page.locator('tr[data-audit-action="user.disable"]').filter({ hasText: "admin-created-agent" }),
  ).toHaveCount(1);
});

test("the admin area works without JavaScript: search, open a contact, suppress an address", async ({
  browser,
}) => {
  const ctx = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 820, height: 1180 },
  });
  const page = await ctx.newPage();
  await loginAs(page, fx().users.settings!);
  await page.goto("/admin/contacts");
  await page
    .getByRole("searchbox", { name: "Email, phone or external id", exact: true })
    .fill("admin-story");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByRole("link", { name: "admin-story@e2e.test" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "admin-story@e2e.test" })).toBeVisible();
  await expect(page.getByRole("region", { name: "History" })).toBeVisible();

  await page.goto("/admin/suppressions");
  const form = page.getByRole("region", { name: "Suppress an address" });
  await form.getByLabel("Email address or phone number").fill("Admin-NoJS@E2E.test");
  await form.getByLabel("Note (required)").fill("Asked by email, no JS");
  await form.getByRole("button", { name: "Suppress" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Suppressed." })).toBeVisible();
  await expect(page.getByRole("region", { name: "State of admin-nojs@e2e.test" })).toContainText(
    "unsubscribed",
  );
  await expect(page.getByRole("region", { name: "History" })).toContainText(
    "Asked by email, no JS",
  );
  await shot(page, "suppressions-nojs-tablet");
  await ctx.close();
});
