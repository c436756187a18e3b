import { expect, test, type Page } from "@playwright/test";
import { fixtures } from "./helpers";

/**
 * The token pages' documents are served from rendered templates before Remix
 * (app/server/token-pages.server.ts). With JavaScript the page must still become the Remix app
 * it was rendered as: it hydrates without a console error, and a form post is done in place by
 * Remix (no page load), then the confirmation takes the focus.
 */

type Contact = Record<string, string>;
const fx = () => fixtures<Record<string, Contact>>("recipient");

/** Console errors and uncaught exceptions of the page (a failed hydration shows there). */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

test("a preferences page served from its template hydrates and saves without a page load", async ({
  page,
}) => {
  const errors = consoleErrors(page);
  const c = fx().hydration!;
  const res = await page.goto(`/p/${c.preferences}`);
  expect(res?.headers()["server-timing"]).toBe('page;desc="template"');
  await page.waitForFunction(() => "__remixRouter" in window);
  // A marker that a page load would wipe.
  await page.evaluate(() => Object.assign(window, { stillTheSamePage: true }));
  await page.getByRole("button", { name: "Save preferences" }).click();
  const outcome = page.getByTestId("preferences-outcome");
  await expect(outcome).toBeFocused();
  expect(await page.evaluate(() => "stillTheSamePage" in window)).toBe(true);
  expect(errors).toEqual([]);
});

test("an unsubscribe page served from its template hydrates and unsubscribes in place", async ({
  page,
}) => {
  const errors = consoleErrors(page);
  const c = fx().hydration!;
  const res = await page.goto(`/u/${c.unsubscribe}`);
  expect(res?.headers()["server-timing"]).toBe('page;desc="template"');
  await page.waitForFunction(() => "__remixRouter" in window);
  await page.evaluate(() => Object.assign(window, { stillTheSamePage: true }));
  await page.getByRole("button", { name: "Unsubscribe", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(/unsubscribed/i);
  expect(await page.evaluate(() => "stillTheSamePage" in window)).toBe(true);
  expect(errors).toEqual([]);
});
