import fs from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { fixtures } from "./helpers";

/**
 * The admin shell, the contact pages and the users page in all seven languages (issue 15, "in
 * all seven languages"; docs/admin-languages.md): the browser's Accept-Language picks the
 * language, `<html lang>` says it, the navigation, the contact page and the users page have no
 * English left for a set of known strings, axe finds nothing; the same with JavaScript off; a
 * language saved on an operator's account wins over the browser's; the Account page switches it.
 */

const LOCALES = ["en", "cs", "de", "es", "fr", "pl", "pt"] as const;
type Locale = (typeof LOCALES)[number];
type Tree = { [key: string]: string | Tree };

type User = { email: string; password: string };
type Fx = { users: Record<"admin" | "german" | "switcher", User>; contact: { id: string } };
const fx = () => fixtures<Fx>("admin-i18n-a");

const strings = (locale: Locale): Tree =>
  JSON.parse(
    fs.readFileSync(path.resolve(`app/i18n/locales/${locale}/admin.json`), "utf8"),
  ) as Tree;

function get(tree: Tree, key: string): string {
  let node: string | Tree = tree;
  for (const part of key.split(".")) node = (node as Tree)[part]!;
  if (typeof node !== "string") throw new Error(`no string at ${key}`);
  return node;
}

/** Strings that must appear in the page's language (and their English must not, when it differs). */
const NAV_KEYS = ["nav.contacts", "nav.suppressions", "nav.reports", "nav.users", "nav.apiKeys"];
const CONTACT_KEYS = [
  "contact.details.title",
  "contact.channels.title",
  "contact.help.title",
  "contact.history.title",
  "contact.delete.title",
  "contact.unsuppress.title",
  "consent.pendingSent",
  "consent.columns.reasonNote",
  "consent.who.recipient",
  "actions.unsubscribe",
  "layout.logOut",
];
const USERS_KEYS = [
  "users.columns.lastLogin",
  "users.create.title",
  "users.create.submit",
  "users.newPassword",
  "users.create.passwordHint",
];

async function login(page: Page, user: User) {
  await page.goto("/admin/login");
  await page.locator('input[name="email"]').fill(user.email);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
  await expect(page.locator('form[action="/admin/logout"]')).toBeVisible();
}

async function expectLanguage(page: Page, locale: Locale, keys: string[], where = "main") {
  const own = strings(locale);
  const en = strings("en");
  await expect(page.locator("html")).toHaveAttribute("lang", locale);
  const text = await page.locator(where).innerText();
  for (const key of keys) {
    const want = get(own, key);
    expect(text, `${locale}: ${key} = ${want}`).toContain(want);
    const english = get(en, key);
    if (locale !== "en" && english !== want && !want.includes(english)) {
      expect(text, `${locale}: no English "${english}" (${key})`).not.toContain(english);
    }
  }
}

async function expectAxeClean(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

async function open(browser: Browser, locale: Locale, javaScriptEnabled = true) {
  const context = await browser.newContext({ locale, javaScriptEnabled });
  return { context, page: await context.newPage() };
}

for (const locale of LOCALES) {
  test(`${locale}: the login, the navigation, a contact and the users page speak ${locale}`, async ({
    browser,
  }) => {
    test.slow();
    const { context, page } = await open(browser, locale);
    const errors = collectErrors(page);
    const { users, contact } = fx();
    await page.goto("/admin/login");
    await expect(page.locator("html")).toHaveAttribute("lang", locale);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(
      get(strings(locale), "login.title"),
    );
    await login(page, users.admin);
    await expectLanguage(page, locale, NAV_KEYS, "header");

    await page.goto(`/admin/contacts/${contact.id}`);
    await expectLanguage(page, locale, CONTACT_KEYS, "body");
    // The reason reads as the recipient's words in this language (recipient:reasons).
    const reasons = JSON.parse(
      fs.readFileSync(path.resolve(`app/i18n/locales/${locale}/recipient.json`), "utf8"),
    ) as { reasons: Record<string, string> };
    await expect(
      page.getByRole("region", { name: get(strings(locale), "contact.history.title") }),
    ).toContainText(reasons.reasons.too_frequent!);

    await page.goto("/admin/users");
    await expectLanguage(page, locale, USERS_KEYS);
    await expect(page).toHaveTitle(
      `${get(strings(locale), "nav.users")} · ${get(strings(locale), "title")}`,
    );
    if (locale === "cs" || locale === "de") {
      await expectAxeClean(page, `${locale} users`);
      await page.goto(`/admin/contacts/${contact.id}`);
      await expectAxeClean(page, `${locale} contact`);
    }
    expect(errors).toEqual([]);
    await context.close();
  });
}

test("cs with JavaScript on and off: a refused change is explained in Czech; screenshots at 1280 and 360 px", async ({
  browser,
}) => {
  test.slow();
  const cs = strings("cs");
  const { users, contact } = fx();
  for (const javaScriptEnabled of [true, false]) {
    const { context, page } = await open(browser, "cs", javaScriptEnabled);
    const errors = collectErrors(page);
    await login(page, users.admin);
    await page.goto(`/admin/contacts/${contact.id}`);
    await expectLanguage(page, "cs", CONTACT_KEYS, "body");
    // Pausing an unsubscribed channel is refused by the consent door; the page says why in Czech.
    const pause = page.locator("form", {
      has: page.getByRole("heading", { name: get(cs, "contact.help.pause") }),
    });
    await pause.getByLabel(get(cs, "consent.columns.channel")).selectOption("email");
    await pause.getByRole("button", { name: get(cs, "contact.help.apply") }).click();
    await expect(page.getByRole("alert")).toHaveText(get(cs, "consentErrors.channel_unsubscribed"));
    await expect(page.locator("html")).toHaveAttribute("lang", "cs");
    if (javaScriptEnabled) {
      // The refusal itself is a 400 answer, which Chromium logs; nothing else may be.
      expect(errors.filter((e) => !/Failed to load resource: .* 400/.test(e))).toEqual([]);
      for (const width of [1280, 360]) {
        await page.setViewportSize({ width, height: width === 360 ? 740 : 900 });
        await page.goto(`/admin/contacts/${contact.id}`);
        await page.screenshot({ path: `/tmp/lang-a-contact-cs-${width}.png`, fullPage: true });
        if (width === 360) {
          // At the phone's real size, to look at: the header and the history.
          await page.screenshot({ path: "/tmp/lang-a-contact-cs-360-top.png" });
          await page
            .getByRole("region", { name: get(cs, "contact.history.title") })
            .screenshot({ path: "/tmp/lang-a-contact-cs-360-history.png" });
        }
        // Long Czech words do not push the page sideways (tables scroll in their own box).
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - window.innerWidth,
        );
        expect(overflow, `no horizontal scroll at ${width}px`).toBeLessThanOrEqual(0);
      }
      await page.goto("/admin/users");
      await page.screenshot({ path: "/tmp/lang-a-users-cs-360.png", fullPage: true });
      const usersOverflow = await page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(usersOverflow, "the users page does not scroll sideways at 360px").toBeLessThanOrEqual(
        0,
      );
    }
    await context.close();
  }
});

test("a language saved on the account wins over the browser's; the Account page changes it", async ({
  browser,
}) => {
  const { users } = fx();
  // Saved German, browser Czech: German from the login on.
  {
    const { context, page } = await open(browser, "cs");
    await login(page, users.german);
    await expectLanguage(page, "de", NAV_KEYS, "header");
    await page.goto("/admin/users");
    await expectLanguage(page, "de", USERS_KEYS);
    await context.close();
  }
  // An English browser; the operator picks Polish, then goes back to the browser's language.
  const { context, page } = await open(browser, "en");
  await login(page, users.switcher);
  await page.goto("/admin/account");
  const en = strings("en");
  const pl = strings("pl");
  await page.getByLabel(get(en, "account.language.label")).selectOption("pl");
  await page.getByRole("button", { name: get(en, "account.language.save") }).click();
  await expect(page.getByRole("status")).toHaveText(get(pl, "account.language.saved"));
  await expect(page.locator("html")).toHaveAttribute("lang", "pl");
  await expectLanguage(page, "pl", NAV_KEYS.slice(0, 3), "header");
  await page.getByLabel(get(pl, "account.language.label")).selectOption("");
  await page.getByRole("button", { name: get(pl, "account.language.save") }).click();
  await expect(page.getByRole("status")).toHaveText(get(en, "account.language.saved"));
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await context.close();
});
