import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { fixtures } from "./helpers";

/**
 * Recipient pages in Chromium: the unsubscribe page and the preference center, with
 * and without JavaScript, on a 360 px phone; axe-core on every page in two locales.
 */

type Contact = Record<string, string>;
const fx = () => fixtures<Record<string, Contact>>("recipient");

const card = (page: Page, name: string) => page.getByRole("region", { name, exact: true });
const state = (page: Page, channel: "email" | "sms" | "whatsapp") =>
  page.getByTestId(`ch-${channel}-state`);

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

/** A topic from the unsubscribe link, then a whole channel in the preference center, with reasons. */
async function topicThenChannel(page: Page, c: Contact, label: string) {
  await page.goto(`/u/${c.unsubscribeTopic}`);
  await expect(page.getByRole("heading", { level: 1, name: "Unsubscribe" })).toBeVisible();
  await expect(
    page.getByText(`You will no longer receive “Recipient news” emails at ${c.email}.`),
  ).toBeVisible();
  await page.getByRole("radio", { name: "I get too many messages" }).check();
  await page.getByRole("button", { name: "Unsubscribe" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "You are unsubscribed" })).toBeVisible();
  await expect(
    page.getByText(`We will send no more “Recipient news” emails to ${c.email}.`),
  ).toBeVisible();
  await shot(page, `${label}-unsubscribed-topic`);

  await page.getByRole("link", { name: "Manage your preferences" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Your preferences" })).toBeVisible();
  // The topic is off on email only; every channel is still subscribed.
  await expect(
    card(page, "Email").getByRole("checkbox", { name: "Recipient news" }),
  ).not.toBeChecked();
  await expect(
    card(page, "Email").getByRole("checkbox", { name: "Recipient offers" }),
  ).toBeChecked();
  await expect(card(page, "SMS").getByRole("checkbox", { name: "Recipient news" })).toBeChecked();
  for (const ch of ["email", "sms", "whatsapp"] as const)
    await expect(state(page, ch)).toHaveText("Subscribed");

  await card(page, "SMS").getByRole("radio", { name: "Unsubscribe" }).check();
  await page.getByRole("radio", { name: "Other" }).check();
  await page.getByLabel("Tell us more (optional)").fill("Texts at night");
  await page.getByRole("button", { name: "Save preferences" }).click();
  const status = page.getByRole("status");
  await expect(status).toContainText("Your preferences are saved");
  await expect(status.getByRole("listitem")).toHaveText(["SMS: unsubscribed"]);
  await expect(state(page, "sms")).toHaveText("Unsubscribed");
  await expect(state(page, "email")).toHaveText("Subscribed");
  await expect(state(page, "whatsapp")).toHaveText("Subscribed");
  await expect(card(page, "SMS")).toContainText("You receive no marketing on this channel");
  await shot(page, `${label}-preferences-saved`);

  // A fresh load (GET) shows the same: the change is stored, not just displayed.
  await page.goto(`/p/${c.preferences}`);
  await expect(state(page, "sms")).toHaveText("Unsubscribed");
  await expect(state(page, "email")).toHaveText("Subscribed");
  await expect(state(page, "whatsapp")).toHaveText("Subscribed");
  await expect(
    card(page, "Email").getByRole("checkbox", { name: "Recipient news" }),
  ).not.toBeChecked();
}

async function pauseAndResume(page: Page, c: Contact, label: string) {
  await page.goto(`/p/${c.preferences}`);
  await card(page, "WhatsApp").getByRole("radio", { name: "Pause for 30 days" }).check();
  await page.getByRole("button", { name: "Save preferences" }).click();
  const until = new Date(Date.now() + 30 * 86_400_000).toLocaleDateString("en-US", {
    dateStyle: "long",
    timeZone: "UTC",
  });
  await expect(page.getByRole("status").getByRole("listitem")).toHaveText([
    `WhatsApp: paused until ${until}`,
  ]);
  await expect(state(page, "whatsapp")).toHaveText(`Paused until ${until}`);
  await expect(state(page, "email")).toHaveText("Subscribed");
  await expect(
    card(page, "WhatsApp").getByRole("radio", { name: `Stay paused until ${until}` }),
  ).toBeChecked();
  await shot(page, `${label}-paused`);

  await card(page, "WhatsApp").getByRole("radio", { name: "Receive them again now" }).check();
  await page.getByRole("button", { name: "Save preferences" }).click();
  await expect(page.getByRole("status").getByRole("listitem")).toHaveText([
    "WhatsApp: messages resumed",
  ]);
  await expect(state(page, "whatsapp")).toHaveText("Subscribed");
}

test.describe("with JavaScript", () => {
  test.use({ viewport: { width: 360, height: 780 } });

  test("a recipient unsubscribes from one topic, then from a whole channel, with a reason; the other channels stay subscribed", async ({
    page,
  }) => {
    await topicThenChannel(page, fx().flowJs!, "js");
  });

  test("pause a channel for 30 days, then resume it", async ({ page }) => {
    await pauseAndResume(page, fx().pause!, "js");
  });

  test("unsubscribe from all marketing stops every channel, with the reason", async ({ page }) => {
    const c = fx().all!;
    await page.goto(`/p/${c.preferences}`);
    await page.getByRole("radio", { name: "I never signed up" }).check();
    await page.getByRole("button", { name: "Unsubscribe from all marketing" }).click();
    await expect(page.getByRole("status").getByRole("listitem")).toHaveText([
      "Email: unsubscribed",
      "SMS: unsubscribed",
      "WhatsApp: unsubscribed",
    ]);
    for (const ch of ["email", "sms", "whatsapp"] as const)
      await expect(state(page, ch)).toHaveText("Unsubscribed");
    // Nothing left to unsubscribe from: the button is gone.
    await expect(page.getByRole("button", { name: "Unsubscribe from all marketing" })).toHaveCount(
      0,
    );
  });

  test("re-enabling an unsubscribed channel asks for confirmation and keeps it unsubscribed until then", async ({
    page,
  }) => {
    const c = fx().resubscribe!;
    await page.goto(`/p/${c.preferences}`);
    await expect(state(page, "email")).toHaveText("Unsubscribed");
    await card(page, "Email")
      .getByRole("radio", { name: "Subscribe again (we will ask you to confirm)" })
      .check();
    await page.getByRole("button", { name: "Save preferences" }).click();
    await expect(page.getByRole("status").getByRole("listitem")).toHaveText([
      `Email: we sent a confirmation to ${c.email}. Check your inbox and confirm to subscribe again.`,
    ]);
    await expect(state(page, "email")).toHaveText("Unsubscribed");
    await expect(card(page, "Email")).toContainText("We sent a confirmation to this address.");
    await expect(
      card(page, "Email").getByRole("radio", { name: "Send the confirmation again" }),
    ).toBeVisible();
    await shot(page, "js-resubscribe-check-inbox");
  });

  test("an SMS short link opens the page it stands for", async ({ page }) => {
    const c = fx().shortLink!;
    await page.goto(`/s/${c.code}`);
    await expect(page).toHaveURL(new RegExp(`/p/${c.preferences!.replace(/[.]/g, "\\.")}$`));
    await expect(page.getByRole("heading", { level: 1, name: "Your preferences" })).toBeVisible();
  });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false, viewport: { width: 360, height: 780 } });

  test("the same topic-then-channel flow works with plain form posts", async ({ page }) => {
    await topicThenChannel(page, fx().flowNoJs!, "nojs");
  });

  test("pause and resume work with plain form posts", async ({ page }) => {
    await pauseAndResume(page, fx().pauseNoJs!, "nojs");
  });

  test("a bad link's page offers the new-link form as a plain form", async ({ page }) => {
    const res = await page.goto(`/u/${fx().bad!.tampered}`);
    expect(res!.status()).toBe(400);
    const form = page.locator("form").filter({ has: page.getByLabel("Email address") });
    await expect(form).toHaveAttribute("method", "post");
    await expect(form).toHaveAttribute("action", "/manage");
    await expect(form.getByLabel("Email address")).toHaveAttribute("name", "email");
  });
});

const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

async function expectNoAxeViolations(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  expect(
    violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    what,
  ).toEqual([]);
}

for (const [name, locale, texts] of [
  [
    "a11yEn",
    "en",
    {
      h1: "Your preferences",
      unsub: "Unsubscribe",
      done: "You are unsubscribed",
      bad: "This link does not work",
      save: "Save preferences",
    },
  ],
  [
    "a11yPl",
    "pl",
    {
      h1: "Twoje preferencje",
      unsub: "Wypisz mnie",
      done: "Wypisano Cię",
      bad: "Ten link nie działa",
      save: "Zapisz preferencje",
    },
  ],
] as const) {
  test.describe(`every recipient page passes axe (${locale})`, () => {
    test.use({ locale: locale === "pl" ? "pl-PL" : "en-US" });

    for (const width of [360, 1280]) {
      test(`at ${width} px: preferences, unsubscribe (channel, topic), done, saved, bad link, expired short link`, async ({
        page,
      }) => {
        // Seven axe runs and full-page screenshots: more than the default 30 s on a busy machine.
        test.setTimeout(120_000);
        await page.setViewportSize({ width, height: 800 });
        const c = fx()[name]!;
        const tag = `${locale}-${width}`;

        await page.goto(`/p/${c.preferences}`);
        await expect(page.getByRole("heading", { level: 1, name: texts.h1 })).toBeVisible();
        await expect(page.locator("html")).toHaveAttribute("lang", locale);
        await expectNoAxeViolations(page, "preferences");
        await shot(page, `${tag}-preferences`);

        await page.goto(`/u/${c.unsubscribeSms}`);
        await expectNoAxeViolations(page, "unsubscribe (channel)");
        await shot(page, `${tag}-unsubscribe-sms`);

        await page.goto(`/u/${c.unsubscribeTopic}`);
        await expectNoAxeViolations(page, "unsubscribe (topic)");
        await shot(page, `${tag}-unsubscribe-topic`);

        await page.goto(`/u/${fx().bad!.tampered}`);
        await expect(page.getByRole("heading", { level: 1, name: texts.bad })).toBeVisible();
        await expect(page.locator("html")).toHaveAttribute("lang", locale);
        await expectNoAxeViolations(page, "bad link");
        await shot(page, `${tag}-bad-link`);

        await page.goto(`/s/${fx().shortLink!.expiredCode}`);
        await expectNoAxeViolations(page, "expired short link");

        if (width === 360) {
          // The pages after a POST (these change the contact: done once per locale).
          await page.goto(`/u/${c.unsubscribeTopic}`);
          await page.getByRole("button", { name: texts.unsub, exact: true }).click();
          await expect(page.getByRole("heading", { level: 1, name: texts.done })).toBeVisible();
          await expectNoAxeViolations(page, "unsubscribed");
          await shot(page, `${tag}-unsubscribe-done`);

          await page.goto(`/p/${c.preferences}`);
          await page.getByRole("button", { name: texts.save }).click();
          await expect(page.getByRole("status")).toBeVisible();
          await expectNoAxeViolations(page, "saved");
          await shot(page, `${tag}-preferences-saved`);
        }
      });
    }
  });
}
