import { expect, test, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Every link of the admin navigation, clicked with JavaScript on (client-side navigation), as an
 * admin and as an agent: each must land on its own page, without a full reload and without a
 * single console error (a route module that fails to load in the browser — for example because a
 * server-only value reached the client bundle — makes Remix reload the current page instead).
 */

type User = { email: string; password: string };
type NavFx = { users: Record<"navAdmin" | "navAgent", User> };
const fx = () => fixtures<NavFx>("admin-nav");

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

async function walkNav(page: Page, errors: string[]) {
  const nav = page.getByRole("navigation", { name: "Admin" });
  const links = await nav
    .getByRole("link")
    .evaluateAll((as) =>
      as.map((a) => ({ href: a.getAttribute("href") ?? "", text: a.textContent?.trim() ?? "" })),
    );
  expect(links.length).toBeGreaterThan(2);
  // A marker on window survives client-side navigation and disappears on a full reload.
  await page.evaluate(() => {
    (window as unknown as { __heedNavMarker: number }).__heedNavMarker = 1;
  });
  for (const link of links) {
    await nav.getByRole("link", { name: link.text, exact: true }).click();
    await expect(
      page,
      `${link.text} goes to ${link.href} (errors: ${errors.join(" | ")})`,
    ).toHaveURL(new RegExp(`${link.href.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`));
    await expect(nav.getByRole("link", { name: link.text, exact: true })).toHaveAttribute(
      "aria-current",
      "page",
    );
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    const marker = await page.evaluate(
      () => (window as unknown as { __heedNavMarker?: number }).__heedNavMarker,
    );
    expect(marker, `${link.text} was a client-side navigation, not a reload`).toBe(1);
    expect(errors, `no console errors after clicking ${link.text}`).toEqual([]);
  }
}

test("an admin clicks every admin nav link: each page loads client-side, no console errors", async ({
  page,
}) => {
  test.slow();
  const errors = collectErrors(page);
  await loginAs(page, fx().users.navAdmin);
  await walkNav(page, errors);
});

test("an agent clicks every admin nav link: each page loads client-side, no console errors", async ({
  page,
}) => {
  const errors = collectErrors(page);
  await loginAs(page, fx().users.navAgent);
  await walkNav(page, errors);
});
