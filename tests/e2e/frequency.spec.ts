import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { FIRST_ADMIN, loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * Frequency preferences on the preference page (docs/consent.md#frequency), with and without
 * JavaScript, on a phone and a desktop; Admin → Frequency and Admin → Ledger render.
 */
type Fx = Record<"en" | "de", { contactId: string; email: string; preferences: string }>;
const fx = () => fixtures<Fx>("frequency");

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

for (const js of [true, false]) {
  test.describe(`the preference page's frequency section (JavaScript ${js ? "on" : "off"})`, () => {
    test.use({ javaScriptEnabled: js, viewport: { width: 360, height: 740 } });

    test("shows the options, checks 'every message' first, and records a choice once", async ({
      page,
    }) => {
      const token = js ? fx().en.preferences : fx().de.preferences;
      await page.goto(`/p/${token}`);
      const section = page.getByRole("group", { name: js ? "How often" : "Wie oft" });
      await expect(section).toBeVisible();
      const every = section.getByRole("radio", { name: js ? "Every message" : "Jede Nachricht" });
      const weekly = section.getByRole("radio", {
        name: js ? "At most once a week" : "Höchstens einmal pro Woche",
      });
      await expect(every).toBeChecked();
      await shot(page, `frequency-p-360-js-${js ? "on" : "off"}`);
      if (js) {
        // axe runs as a script in the page: only where the page runs scripts.
        const { violations } = await new AxeBuilder({ page })
          .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
          .analyze();
        expect(violations.map((v) => v.id)).toEqual([]);
      }

      await weekly.check();
      await page
        .getByRole("button", { name: js ? "Save preferences" : "Einstellungen speichern" })
        .click();
      const status = page.getByRole("status");
      await expect(status).toContainText(
        js ? "Email: At most once a week" : "E-Mail: Höchstens einmal pro Woche",
      );
      await shot(page, `frequency-p-saved-360-js-${js ? "on" : "off"}`);
      await expect(
        page
          .getByRole("group", { name: js ? "How often" : "Wie oft" })
          .getByRole("radio", { name: js ? "At most once a week" : "Höchstens einmal pro Woche" }),
      ).toBeChecked();
      // Saving again without touching it records nothing.
      await page
        .getByRole("button", { name: js ? "Save preferences" : "Einstellungen speichern" })
        .click();
      await expect(page.getByRole("status")).not.toContainText(
        js ? "At most once a week" : "Höchstens einmal pro Woche",
      );
    });
  });
}

test("desktop: the preference page, Admin → Frequency and Admin → Ledger", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`/p/${fx().en.preferences}`);
  await expect(page.getByRole("group", { name: "How often" })).toBeVisible();
  await shot(page, "frequency-p-desktop");
  await loginAs(page, FIRST_ADMIN);
  await page.goto("/admin/frequency");
  await expect(page.getByRole("heading", { name: "Frequency options" })).toBeVisible();
  await expect(page.getByText("Key: weekly")).toBeVisible();
  await shot(page, "admin-frequency-desktop");
  await page.goto("/admin/ledger");
  await expect(page.getByText(/The ledger verifies/)).toBeVisible();
  await page.getByRole("button", { name: "Seal a checkpoint now" }).click();
  await expect(page.getByText(/Checkpoint \d+ sealed \d+ rows/)).toBeVisible();
  // The page shows the checkpoint it sealed, and still verifies.
  await expect(page.getByRole("cell", { name: /^[0-9a-f]{64}$/ }).first()).toBeVisible();
  await expect(page.getByText(/The ledger verifies/)).toBeVisible();
  await shot(page, "admin-ledger-desktop");
  await page.setViewportSize({ width: 360, height: 740 });
  await shot(page, "admin-ledger-360");
});
