import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * The SMS review queue as an agent uses it: replies that contain a stop word wait there; the old
 * one shows as overdue; one click unsubscribes (and the contact's page shows the reply with the
 * decision and who made it), one click dismisses, with and without JavaScript.
 */

type SmsFixtures = {
  contactId: string;
  freshId: number;
  oldId: number;
  agent: { email: string; password: string };
};

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

test("an agent works the SMS review queue: overdue shown, unsubscribe and dismiss in one click each", async ({
  page,
  browser,
}) => {
  test.slow();
  const f = fixtures<SmsFixtures>("sms");
  await loginAs(page, f.agent, "/admin/sms/review");
  await expect(page.getByRole("heading", { name: "SMS replies to review" })).toBeVisible();
  const fresh = page.locator(`li[data-review-id="${f.freshId}"]`);
  const old = page.locator(`li[data-review-id="${f.oldId}"]`);
  await expect(fresh).toContainText("“End of the day works for me”");
  await expect(fresh).toContainText("stop word: “end”");
  await expect(fresh).toContainText("due");
  await expect(old).toContainText("overdue");
  await expect(page.getByText(/1 overdue/)).toBeVisible();
  await expect(page.getByText(/within 10 business days/)).toBeVisible();
  await expectNoAxeViolations(page, "review queue");
  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({ path: test.info().outputPath("review-360.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  await fresh.getByRole("button", { name: /^Unsubscribe/ }).click();
  await expect(page.getByRole("status")).toContainText("Applied: the number is unsubscribed");
  await expect(fresh).toHaveCount(0);

  // The contact's page shows the reply, the decision and the agent; the ledger shows the change.
  await page.goto(`/admin/contacts/${f.contactId}`);
  const replies = page.getByRole("region", { name: "SMS and WhatsApp replies" });
  await expect(replies).toContainText("“End of the day works for me”");
  await expect(replies).toContainText("Applied");
  await expect(replies).toContainText(`by ${f.agent.email}`);
  await expect(page.getByRole("region", { name: "History" })).toContainText("SMS reply");
  await expectNoAxeViolations(page, "contact page with replies");
  await replies.screenshot({ path: test.info().outputPath("contact-replies.png") });

  // Without JavaScript: the plain form post dismisses the other one.
  const context = await browser.newContext({
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  const noJs = await context.newPage();
  await noJs.goto("/admin/sms/review");
  await noJs
    .locator(`li[data-review-id="${f.oldId}"]`)
    .getByRole("button", { name: /^Dismiss/ })
    .click();
  await expect(noJs.getByRole("status")).toContainText("Dismissed");
  await expect(noJs.locator(`li[data-review-id="${f.oldId}"]`)).toHaveCount(0);
  await expect(noJs.getByText("Nothing waits for review.")).toBeVisible();
  await noJs.screenshot({ path: test.info().outputPath("review-empty-nojs.png"), fullPage: true });
  await context.close();
});
