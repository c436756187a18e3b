import { expect, type Page } from "@playwright/test";

/**
 * Logging in to the admin area through the real form, for any spec that needs an operator.
 * The e2e server's first admin is admin@e2e.test / e2e-admin-password-1; tests/e2e/fixtures/admin.ts
 * creates agents and other users with known passwords.
 */
export const FIRST_ADMIN = { email: "admin@e2e.test", password: "e2e-admin-password-1" };

export async function loginAs(
  page: Page,
  user: { email: string; password: string },
  redirectTo?: string,
): Promise<void> {
  await page.goto(
    redirectTo ? `/admin/login?${new URLSearchParams({ redirectTo })}` : "/admin/login",
  );
  // By field name, not label: the page speaks the browser's language (a Czech context gets Czech).
  await page.locator('input[name="email"]').fill(user.email);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('main button[type="submit"]').click();
  await expect(page.locator('form[action="/admin/logout"] button')).toBeVisible();
}

/** The CSRF token of the signed-in page (any admin form carries it). */
export async function csrfToken(page: Page): Promise<string> {
  return (await page.locator('input[name="csrf"]').first().getAttribute("value")) ?? "";
}
