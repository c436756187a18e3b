import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * The agent's view of a contact (issue 15.5): a pending confirmation shows, reasons read as
 * words, an import's note shows, the "Who" column does not break words; the agent turns a topic
 * off, pauses a channel and sends the preferences link, each recorded as `admin` by the agent.
 */

type User = { email: string; password: string };
type Fx = { users: Record<"contactAgent", User>; caller: { id: string } };
const fx = () => fixtures<Fx>("admin-nav");

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

test("an agent helps a caller: pending confirmation, readable reasons and notes, topic, pause, link", async ({
  page,
}) => {
  test.slow();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const { users, caller } = fx();
  await loginAs(page, users.contactAgent);
  await page.goto(`/admin/contacts/${caller.id}`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("adminnav-caller@e2e.test");

  const channels = page.getByRole("region", { name: "Channels" });
  await expect(channels.locator('tr[data-channel="sms"]')).toContainText("Confirmation sent");
  const history = page.getByRole("region", { name: "History" });
  await expect(history).toContainText("I get too many messages");
  await expect(history).not.toContainText("too_frequent");
  await expect(history).toContainText("“Příliš často”");
  await expect(history).toContainText("Note: import unsubscribe");
  // "recipient" stays one word: its text is laid out on one line.
  const who = history.locator("td", { hasText: /^recipient$/ }).first();
  const lines = await who.evaluate((el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  });
  expect(lines).toBe(1);
  await shot(page, "contact-desktop");

  // A topic off for the caller (email is unsubscribed; the topic opt-out is still recorded).
  const help = page.getByRole("region", { name: "Help the caller" });
  const topicForm = help.locator("form", { has: page.getByRole("heading", { name: "Topics" }) });
  if ((await topicForm.count()) > 0) {
    await topicForm.getByLabel("Note (optional)").fill("Caller: no more newsletters");
    await topicForm.getByRole("button", { name: "Change topic" }).click();
    await expect(
      page.getByRole("status").filter({ hasText: /Done|Nothing changed/ }),
    ).toBeVisible();
  }

  // Pause WhatsApp? It is unsubscribed: the door refuses a pause, and says why.
  const pauseForm = help.locator("form", { has: page.getByRole("heading", { name: "Pause" }) });
  await pauseForm.getByLabel("Channel").selectOption("whatsapp");
  await pauseForm.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByRole("alert")).toBeVisible();

  // Send the preferences link by SMS.
  const linkForm = help.locator("form", {
    has: page.getByRole("heading", { name: "Preferences link" }),
  });
  await linkForm.getByRole("radio", { name: "SMS" }).check();
  await linkForm.getByRole("button", { name: "Send preferences link" }).click();
  await expect(page.getByRole("status").filter({ hasText: "preferences link" })).toBeVisible();

  await page.setViewportSize({ width: 360, height: 740 });
  await shot(page, "contact-360");
  expect(errors).toEqual([]);
});
