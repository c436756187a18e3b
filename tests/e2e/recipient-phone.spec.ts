import fs from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Locator, type Page } from "@playwright/test";
import { FIRST_ADMIN, loginAs } from "./admin-helpers";
import { E2E_DIR } from "./env";
import { fixtures } from "./helpers";

/**
 * The recipient pages on a 360×740 phone (issue 15.8), with and without JavaScript, in English
 * and Czech: the outcome of a form post takes the focus, is in view and is a live region; nothing
 * asks "why?" once everything is unsubscribed, and the way back is there; the /u button is in
 * view at once; the page after a re-subscribe has a real heading; /manage takes a phone number;
 * "I would rather not say" is an operator-editable reason. Screenshots of every state land in
 * tests/.tmp/e2e-artifacts/recipient-phone/ (looked at while building this).
 */

type Contact = Record<string, string>;
const fx = () => fixtures<Record<string, Contact>>("recipientux");

const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
const SHOTS = path.join(`${E2E_DIR}-artifacts`, "recipient-phone");

async function shot(page: Page, name: string, fullPage = false) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
async function expectNoAxeViolations(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  expect(
    violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    what,
  ).toEqual([]);
}

/** The outcome of a post: focused, entirely in view, and announced (a polite or assertive live region). */
async function expectAnnounced(outcome: Locator, live: "polite" | "assertive" = "polite") {
  await expect(outcome).toBeFocused();
  await expect(outcome).toBeInViewport({ ratio: 1 });
  await expect(outcome).toHaveAttribute("aria-live", live);
}

/** Scrolls to the bottom first, as a person who went through the whole form. */
async function clickAtBottom(page: Page, button: Locator) {
  await button.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await button.click();
}

const card = (page: Page, name: string) => page.getByRole("region", { name, exact: true });

test.describe("with JavaScript on a 360×740 phone", () => {
  test.use({ viewport: PHONE });

  test("after Save the confirmation takes the focus, is in view and is announced", async ({
    page,
  }) => {
    const c = fx().focusJs!;
    await page.goto(`/p/${c.preferences}`);
    await card(page, "WhatsApp").getByRole("radio", { name: "Pause for 30 days" }).check();
    await clickAtBottom(page, page.getByRole("button", { name: "Save preferences" }));
    const outcome = page.getByTestId("preferences-outcome");
    await expect(outcome).toContainText("Your preferences are saved");
    await expect(outcome.getByRole("listitem")).toHaveText([/^WhatsApp: paused until /]);
    await expectAnnounced(outcome);
    await shot(page, "js-en-360-p-saved");

    // A second save (nothing changed) moves the focus back to the new outcome.
    await page.getByRole("button", { name: "Save preferences" }).focus();
    await clickAtBottom(page, page.getByRole("button", { name: "Save preferences" }));
    await expect(outcome).toContainText("Nothing changed");
    await expectAnnounced(outcome);
  });

  test("unsubscribe from all: announced in view, then a done state without “why?”/Save, and the way back", async ({
    page,
  }) => {
    const c = fx().allJs!;
    await page.goto(`/p/${c.preferences}`);
    await clickAtBottom(page, page.getByRole("button", { name: "Unsubscribe from all marketing" }));
    const outcome = page.getByTestId("preferences-outcome");
    await expect(outcome.getByRole("listitem")).toHaveText([
      "Email: unsubscribed",
      "SMS: unsubscribed",
      "WhatsApp: unsubscribed",
    ]);
    await expectAnnounced(outcome);
    // The page agrees with the message the moment it appears (not a beat later).
    expect(await page.getByTestId("all-unsubscribed").count()).toBe(1);
    expect(await page.getByRole("button", { name: "Save preferences" }).count()).toBe(0);
    await shot(page, "js-en-360-p-all-unsubscribed");
    await shot(page, "js-en-360-p-all-unsubscribed-full", true);

    const done = page.getByTestId("all-unsubscribed");
    await expect(
      done.getByRole("heading", { name: "You receive no marketing from Heed" }),
    ).toBeVisible();
    await expect(page.getByRole("button", { name: "Save preferences" })).toHaveCount(0);
    await expect(page.getByRole("group", { name: /tell us why/ })).toHaveCount(0);
    await expect(page.getByRole("radio")).toHaveCount(0);
    await expect(page.getByRole("heading", { name: "Changed your mind?" })).toBeVisible();
    await expectNoAxeViolations(page, "all unsubscribed");

    // The way back: one channel again, through a confirmation.
    await page.getByRole("button", { name: "Receive emails again" }).click();
    await expect(outcome.getByRole("listitem")).toHaveText([
      `Email: we sent a confirmation to ${c.email}. Check your inbox and confirm to subscribe again.`,
    ]);
    await expectAnnounced(outcome);
    await expect(page.getByTestId("ch-email-state")).toHaveText("Unsubscribed");
    await expect(page.getByRole("button", { name: "Send the confirmation again" })).toBeVisible();
    await shot(page, "js-en-360-p-way-back", true);
    await expectNoAxeViolations(page, "way back");
  });

  for (const [name, lang, texts] of [
    ["uEn", "en", { button: "Unsubscribe", other: "Other", more: "Tell us more (optional)" }],
    ["uCs", "cs", { button: "Odhlásit se", other: "Jiný důvod", more: "Napište nám víc" }],
  ] as const) {
    test(`/u (${lang}): the Unsubscribe button is in view at once; the outcome is focused`, async ({
      page,
    }) => {
      const c = fx()[name]!;
      for (const token of [c.unsubscribe!, c.unsubscribeSms!]) {
        await page.goto(`/u/${token}`);
        await expect(page.getByRole("button", { name: texts.button, exact: true })).toBeInViewport({
          ratio: 1,
        });
      }
      await shot(page, `js-${lang}-360-u`);
      // "I would rather not say" is preselected; the free-text box opens with "Other".
      await expect(page.getByRole("radio").first()).toBeChecked();
      await expect(page.getByLabel(texts.more)).toBeHidden();
      await page.getByRole("radio", { name: texts.other }).check();
      await expect(page.getByLabel(texts.more)).toBeVisible();
      await page.getByRole("radio").first().check();
      await expect(page.getByLabel(texts.more)).toBeHidden();

      await page.getByRole("button", { name: texts.button, exact: true }).click();
      const outcome = page.getByTestId("unsubscribe-outcome");
      await expect(outcome.getByRole("heading", { level: 1 })).toBeVisible();
      await expectAnnounced(outcome);
      await shot(page, `js-${lang}-360-u-done`);
      await expectNoAxeViolations(page, "unsubscribed");
    });
  }

  test("/u after a re-subscribe is headed by what happens next, not just “Email”", async ({
    page,
  }) => {
    const c = fx().resubJs!;
    await page.goto(`/u/${c.unsubscribe}`);
    await expect(
      page.getByRole("heading", { level: 1, name: "You are already unsubscribed" }),
    ).toBeVisible();
    await page.getByRole("button", { name: "Subscribe again" }).click();
    const outcome = page.getByTestId("unsubscribe-outcome");
    await expect(outcome.getByRole("heading", { level: 1 })).toHaveText("Check your inbox");
    await expect(outcome).toContainText(`We sent a confirmation to ${c.email}.`);
    await expectAnnounced(outcome);
    await shot(page, "js-en-360-u-resubscribed");
    await expectNoAxeViolations(page, "re-subscribed");

    // The confirmation from the email: its outcome is announced too.
    await page.goto(`/dev/outbox?to=${encodeURIComponent(c.email!)}`);
    await page
      .getByRole("link", { name: /Please confirm/ })
      .first()
      .click();
    const href = await page.getByRole("link", { name: "Yes, subscribe me" }).getAttribute("href");
    await page.goto(new URL(href!).pathname);
    await page.getByRole("button", { name: "Confirm my subscription" }).click();
    const confirmed = page.getByTestId("confirm-outcome");
    await expect(confirmed.getByRole("heading", { level: 1 })).toHaveText(
      "You are subscribed again",
    );
    await expectAnnounced(confirmed);
  });

  test("/manage takes a phone number: the known one gets an SMS with its link, an unknown or opted-out one the same answer and nothing", async ({
    page,
  }) => {
    const { managePhone, managePhoneStopped } = fx();
    const send = async (value: string) => {
      await page.goto("/manage");
      await page.getByLabel("Email address or mobile number").fill(value);
      await page.getByRole("button", { name: "Send me my link" }).click();
      const outcome = page.getByTestId("manage-outcome");
      await expect(outcome.getByRole("heading", { level: 1 })).toHaveText("Check your phone");
      await expectAnnounced(outcome);
      return (await outcome.innerText()).replace(/\+[\d ]+/g, "<number>");
    };
    const phone = managePhone!.phone!;
    const spaced = `${phone.slice(0, 4)} ${phone.slice(4, 7)} ${phone.slice(7, 10)} ${phone.slice(10)}`;
    const known = await send(spaced);
    await shot(page, "js-en-360-manage-sent-phone");
    await expectNoAxeViolations(page, "manage sent (phone)");
    expect(await send("+420 777 000 999")).toBe(known);
    expect(await send(managePhoneStopped!.phone!)).toBe(known);

    await page.goto(`/dev/outbox?to=${encodeURIComponent(managePhoneStopped!.phone!)}`);
    await expect(page.getByText("No messages.")).toBeVisible();
    await page.goto(`/dev/outbox?to=${encodeURIComponent("+420777000999")}`);
    await expect(page.getByText("No messages.")).toBeVisible();
    await page.goto(`/dev/outbox?to=${encodeURIComponent(phone)}`);
    const sms = await page.locator("main li").first().innerText();
    expect(sms).toContain("sms");
    const link = /https?:\/\/[^\s]+\/s\/[\w-]+/.exec(sms)?.[0];
    expect(link, sms).toBeTruthy();
    await page.goto(new URL(link!).pathname);
    await expect(page.getByRole("heading", { level: 1, name: "Your preferences" })).toBeVisible();
    await expect(page.getByTestId("ch-sms-state")).toHaveText("Subscribed");
  });

  test("/manage asks for the country code when the number cannot be texted", async ({ page }) => {
    await page.goto("/manage");
    await page.getByLabel("Email address or mobile number").fill("777 12");
    await page.getByRole("button", { name: "Send me my link" }).click();
    await expect(page.getByRole("alert")).toContainText("Please add the country code");
    const input = page.getByLabel("Email address or mobile number");
    await expect(input).toBeFocused();
    await expect(input).toHaveAttribute("aria-invalid", "true");
    await expect(input).toHaveValue("777 12");
    await shot(page, "js-en-360-manage-invalid-phone");
    await expectNoAxeViolations(page, "manage invalid phone");
  });
});

test.describe("without JavaScript on a 360×740 phone", () => {
  test.use({ viewport: PHONE, javaScriptEnabled: false });

  test("unsubscribe from all: the answer page opens at its message, in the done state, and the way back works", async ({
    page,
  }) => {
    const c = fx().allNoJs!;
    await page.goto(`/p/${c.preferences}`);
    await page.getByRole("button", { name: "Unsubscribe from all marketing" }).click();
    const outcome = page.getByTestId("preferences-outcome");
    await expect(outcome).toBeInViewport({ ratio: 1 });
    await expect(outcome).toHaveAttribute("aria-live", "polite");
    await expect(page.getByTestId("all-unsubscribed")).toBeVisible();
    await expect(page.getByRole("button", { name: "Save preferences" })).toHaveCount(0);
    await expect(page.getByRole("radio")).toHaveCount(0);
    await shot(page, "nojs-en-360-p-all-unsubscribed", true);
    await page.getByRole("button", { name: "Receive text messages again" }).click();
    await expect(outcome.getByRole("listitem")).toHaveText([/^SMS: /]);
    await expect(page.getByTestId("ch-sms-state")).toHaveText("Unsubscribed");
  });

  test("/u (cs): the button is in view at once, “Other” opens its text box without JavaScript", async ({
    page,
  }) => {
    const c = fx().allCs!;
    await page.goto(`/u/${c.unsubscribe}`);
    await expect(page.getByRole("button", { name: "Odhlásit se", exact: true })).toBeInViewport({
      ratio: 1,
    });
    await expect(page.getByLabel("Napište nám víc")).toBeHidden();
    await page.getByRole("radio", { name: "Jiný důvod" }).check();
    await expect(page.getByLabel("Napište nám víc")).toBeVisible();
    await page.getByLabel("Napište nám víc").fill("Příliš často");
    await shot(page, "nojs-cs-360-u-other");
    await page.getByRole("button", { name: "Odhlásit se", exact: true }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Jste odhlášeni" })).toBeVisible();
  });

  test("/u (cs) after a re-subscribe has a real heading", async ({ page }) => {
    const c = fx().resubNoJs!;
    await page.goto(`/u/${c.unsubscribe}`);
    await page.getByRole("button", { name: "Znovu se přihlásit" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Zkontrolujte svou schránku");
    await shot(page, "nojs-cs-360-u-resubscribed");
  });

  test("a bad link's page sends a new link to a phone number too", async ({ page }) => {
    const res = await page.goto("/u/not-a-token");
    expect(res!.status()).toBe(400);
    await page.getByLabel("Email address or mobile number").fill("+420 777 000 555");
    await page.getByRole("button", { name: "Send me a new link" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Check your phone" })).toBeVisible();
  });

  test("/manage (cs) takes a phone number with plain form posts", async ({ browser }) => {
    const context = await browser.newContext({
      viewport: PHONE,
      javaScriptEnabled: false,
      locale: "cs-CZ",
    });
    const page = await context.newPage();
    await page.goto("/manage");
    await expect(page.getByRole("heading", { level: 1, name: "Správa odběrů" })).toBeVisible();
    await shot(page, "nojs-cs-360-manage");
    await page.getByLabel("E-mailová adresa nebo číslo mobilu").fill(fx().managePhoneNoJs!.phone!);
    await page.getByRole("button", { name: "Poslat mi odkaz" }).click();
    await expect(
      page.getByRole("heading", { level: 1, name: "Podívejte se do telefonu" }),
    ).toBeVisible();
    await shot(page, "nojs-cs-360-manage-sent-phone");
    await context.close();
  });
});

test("“I would rather not say” is in Admin → Reasons; its label there is what recipients see", async ({
  page,
}) => {
  await page.setViewportSize(DESKTOP);
  await loginAs(page, FIRST_ADMIN, "/admin/reasons");
  const row = page.getByRole("region", { name: "I would rather not say" });
  await expect(row).toContainText("prefer_not_to_say");
  await expect(row).toContainText("Preselected on the unsubscribe and preference pages");
  await expect(row.getByLabel("Czech")).toHaveAttribute("placeholder", "Nechci uvádět");
  await row.getByLabel("Czech").fill("Raději to nechám pro sebe");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Reason “prefer_not_to_say” saved.")).toBeVisible();

  await page.goto(`/u/${fx().tourCs!.unsubscribeSms}`);
  await expect(page.getByRole("radio", { name: "Raději to nechám pro sebe" })).toBeChecked();

  // Put it back (other tests read the built-in label).
  await page.goto("/admin/reasons");
  await row.getByLabel("Czech").fill("");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Reason “prefer_not_to_say” saved.")).toBeVisible();
});

/** The screenshot tour: before and after, English and Czech, phone and desktop. */
const TOUR = {
  en: {
    pause: "Pause for 30 days",
    save: "Save preferences",
    all: "Unsubscribe from all marketing",
    resubscribe: "Subscribe again",
    address: "Email address or mobile number",
    send: "Send me my link",
  },
  cs: {
    pause: "Pozastavit na 30 dní",
    save: "Uložit předvolby",
    all: "Odhlásit se ze všech marketingových zpráv",
    resubscribe: "Znovu se přihlásit",
    address: "E-mailová adresa nebo číslo mobilu",
    send: "Poslat mi odkaz",
  },
};
for (const viewport of [PHONE, DESKTOP]) {
  for (const [lang, locale] of [
    ["en", "en-US"],
    ["cs", "cs-CZ"],
  ] as const) {
    test(`screenshots and axe: /p, /u, /manage (${lang}, ${viewport.width}px)`, async ({
      browser,
    }) => {
      test.setTimeout(90_000);
      const context = await browser.newContext({ viewport, locale });
      const page = await context.newPage();
      const c = fx()[lang === "en" ? "tourEn" : "tourCs"]!;
      const tag = `${lang}-${viewport.width}`;
      await page.goto(`/p/${c.preferences}`);
      await shot(page, `tour-${tag}-p`, true);
      await expectNoAxeViolations(page, "preferences");
      await page.goto(`/u/${c.unsubscribeSms}`);
      await shot(page, `tour-${tag}-u`);
      await expectNoAxeViolations(page, "unsubscribe");
      await page.goto("/manage");
      await shot(page, `tour-${tag}-manage`);
      await expectNoAxeViolations(page, "manage");

      // After the actions (a contact of its own per language and width).
      const a = fx()[`after${lang === "en" ? "En" : "Cs"}${viewport.width}`]!;
      const t = TOUR[lang];
      await page.goto(`/p/${a.preferences}`);
      await card(page, "SMS").getByRole("radio", { name: t.pause }).check();
      await clickAtBottom(page, page.getByRole("button", { name: t.save }));
      await expectAnnounced(page.getByTestId("preferences-outcome"));
      expect(await page.getByTestId("ch-sms-state").innerText()).toMatch(/Paused|Pozastaveno/);
      await shot(page, `tour-${tag}-p-saved`);
      await clickAtBottom(page, page.getByRole("button", { name: t.all }));
      await expectAnnounced(page.getByTestId("preferences-outcome"));
      expect(await page.getByTestId("all-unsubscribed").count()).toBe(1);
      await shot(page, `tour-${tag}-p-all-unsubscribed`, true);
      await expectNoAxeViolations(page, "all unsubscribed");
      await page.goto(`/u/${a.unsubscribe}`);
      await page.getByRole("button", { name: t.resubscribe }).click();
      await expectAnnounced(page.getByTestId("unsubscribe-outcome"));
      await shot(page, `tour-${tag}-u-resubscribed`);
      await page.goto("/manage");
      await page.getByLabel(t.address).fill(a.email!);
      await page.getByRole("button", { name: t.send }).click();
      await expectAnnounced(page.getByTestId("manage-outcome"));
      await shot(page, `tour-${tag}-manage-sent`);
      await expectNoAxeViolations(page, "manage sent");
      await context.close();
    });
  }
}
