import AxeBuilder from "@axe-core/playwright";
import {
  expect,
  test,
  type Browser,
  type BrowserContextOptions,
  type Page,
} from "@playwright/test";
import fs from "node:fs";
import type enIntegrations from "../../app/i18n/locales/en/integrations.json";
import type enSettings from "../../app/i18n/locales/en/settings.json";
import { FIRST_ADMIN, loginAs } from "./admin-helpers";

/**
 * The admin settings and integrations pages (topics, reasons, frequency, email providers,
 * webhooks, data sources) in all seven languages, in Chromium: each page in each locale of the
 * browser (Accept-Language) has its headings and buttons translated and `<html lang>` set; axe is
 * clean in Czech; validation errors come back translated (with and without JavaScript); Czech and
 * Polish screenshots at 1280 and 360 px go to /tmp/lang-c-*.png.
 *
 * The operator logs in once in English (the login page is not under test here), then the page
 * language follows the Accept-Language header set for each locale.
 */

/** The namespaces as the app reads them (app/i18n/locales/<locale>/<ns>.json). */
const read = <T>(locale: string, ns: string): T =>
  JSON.parse(fs.readFileSync(`app/i18n/locales/${locale}/${ns}.json`, "utf8")) as T;
const strings = (locale: string) => ({
  s: read<typeof enSettings>(locale, "settings"),
  i: read<typeof enIntegrations>(locale, "integrations"),
});
const STRINGS = {
  en: strings("en"),
  cs: strings("cs"),
  pl: strings("pl"),
  de: strings("de"),
  es: strings("es"),
  fr: strings("fr"),
  pt: strings("pt"),
};
type Locale = keyof typeof STRINGS;
const LOCALES = Object.keys(STRINGS) as Locale[];

/** "Name ({{language}})" → "Name (English)": the few interpolations these checks need. */
const fill = (s: string, values: Record<string, string>) =>
  s.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? "");

/**
 * A page signed in as the first admin whose browser speaks `locale` (Accept-Language). The login
 * happens once, in English, and its session is reused.
 */
let session: BrowserContextOptions["storageState"] | undefined;
async function adminPage(
  browser: Browser,
  locale: Locale,
  options: BrowserContextOptions = {},
): Promise<Page> {
  if (!session) {
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await loginAs(page, FIRST_ADMIN);
    session = await ctx.storageState();
    await ctx.close();
  }
  const ctx = await browser.newContext({ ...options, locale, storageState: session });
  return ctx.newPage();
}

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

async function h1(page: Page, name: string) {
  await expect(page.getByRole("heading", { level: 1, name, exact: true })).toBeVisible();
}

/** A webhook endpoint (disabled at once: nothing is delivered) and a data source to open. */
async function createTargets(page: Page) {
  await page.goto("/admin/webhooks");
  await page.waitForLoadState("networkidle");
  await page.getByLabel("URL").fill("https://93.184.215.14/lang-c-hook");
  await page.getByLabel("Description (optional)").fill("lang-c endpoint");
  await page.getByRole("button", { name: "Register endpoint" }).click();
  await page.getByRole("link", { name: "See its deliveries" }).click();
  await h1(page, "Webhook endpoint");
  const webhook = new URL(page.url()).pathname;
  await page.waitForLoadState("networkidle");
  await page.getByRole("button", { name: "Disable", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("Endpoint disabled");

  await page.goto("/admin/sources");
  const form = page.getByRole("region", { name: "Add a data source" });
  await form.getByLabel("Name", { exact: true }).fill("Lang-c source");
  // Nothing listens on port 9: a preview fails with a connection error.
  await form.getByLabel("URL", { exact: true }).fill("http://127.0.0.1:9/list.csv");
  await form.getByRole("button", { name: "Add and preview" }).click();
  await h1(page, "Data source: Lang-c source");
  const source = new URL(page.url()).pathname;
  return { webhook, source };
}

test("settings and integrations pages in all seven languages; axe-clean in Czech", async ({
  browser,
}) => {
  test.setTimeout(test.info().timeout * 8); // seven languages, every settings page, axe
  const { webhook, source } = await createTargets(await adminPage(browser, "en"));

  for (const locale of LOCALES) {
    const { s, i } = STRINGS[locale];
    const language = (l: keyof typeof s.languages) => s.languages[l];
    const page = await adminPage(browser, locale);
    const pages: { path: string; check: () => Promise<void> }[] = [
      {
        path: "/admin/topics",
        check: async () => {
          await h1(page, s.topics.title);
          await expect(page).toHaveTitle(new RegExp(`^${s.topics.title} · `));
          await expect(page.getByRole("link", { name: s.topics.new })).toBeVisible();
          await expect(
            page.getByRole("columnheader", { name: s.topics.col.languages }),
          ).toBeVisible();
        },
      },
      {
        path: "/admin/topics/new",
        check: async () => {
          await h1(page, s.topics.new);
          await expect(
            page.getByLabel(fill(s.topic_form.name_in, { language: language("en") })),
          ).toBeVisible();
          await expect(page.getByRole("button", { name: s.topic_form.create })).toBeVisible();
        },
      },
      {
        path: "/admin/topics/newsletter",
        check: async () => {
          await expect(page.getByRole("heading", { level: 2, name: s.topics.edit })).toBeVisible();
          await expect(
            page.getByLabel(fill(s.topic_form.name_in, { language: language("de") })),
          ).toHaveValue("Newsletter");
          await expect(page.getByRole("button", { name: s.topics.archive_button })).toBeVisible();
        },
      },
      {
        path: "/admin/reasons",
        check: async () => {
          await h1(page, s.reasons.title);
          await expect(page.getByRole("region", { name: s.reasons.add_title })).toBeVisible();
          await expect(page.getByRole("button", { name: s.reasons.add })).toBeVisible();
        },
      },
      {
        path: "/admin/frequency",
        check: async () => {
          await h1(page, s.frequency.title);
          await expect(page.getByRole("button", { name: s.frequency.add })).toBeVisible();
          await expect(page.getByText(`${s.frequency.key_label} weekly`).first()).toBeVisible();
        },
      },
      {
        path: "/admin/email",
        check: async () => {
          await h1(page, s.email.title);
          await expect(page.getByLabel(s.email.soft_limit)).toBeVisible();
          await expect(
            page.getByRole("heading", { level: 2, name: s.email.bounces_title }),
          ).toBeVisible();
        },
      },
      {
        path: "/admin/webhooks",
        check: async () => {
          await h1(page, i.webhooks.title);
          await expect(page.getByRole("button", { name: i.webhooks.register })).toBeVisible();
          await expect(
            page.getByRole("columnheader", { name: i.webhooks.col.endpoint }),
          ).toBeVisible();
        },
      },
      {
        path: webhook,
        check: async () => {
          await h1(page, i.webhook.title);
          await expect(page.getByRole("button", { name: i.webhook.enable })).toBeVisible();
          await expect(page.getByRole("button", { name: i.webhook.retry_all })).toBeVisible();
          await expect(
            page.getByText(fill(i.webhook.disabled_reason.by, { detail: FIRST_ADMIN.email })),
          ).toBeVisible();
        },
      },
      {
        path: "/admin/sources",
        check: async () => {
          await h1(page, i.sources.title);
          await expect(page.getByLabel(i.sources.fields.name, { exact: true })).toHaveAttribute(
            "placeholder",
            i.sources.fields.name_placeholder,
          );
          await expect(page.getByRole("button", { name: i.sources.add })).toBeVisible();
          await expect(page.getByRole("link", { name: "Lang-c source" })).toBeVisible();
        },
      },
      {
        path: source,
        check: async () => {
          await h1(page, fill(i.source.title, { name: "Lang-c source" }));
          await expect(page.getByRole("button", { name: i.source.fetch })).toBeVisible();
          await expect(page.getByText(i.source.unmapped)).toBeVisible();
        },
      },
    ];
    for (const p of pages) {
      await test.step(`${locale} ${p.path}`, async () => {
        const res = await page.goto(p.path);
        expect(res?.status(), p.path).toBe(200);
        await expect(page.locator("html")).toHaveAttribute("lang", locale);
        await p.check();
        if (locale === "cs") await expectNoAxeViolations(page, `cs ${p.path}`);
      });
    }
    await page.context().close();
  }
});

test("validation errors and notices come back in the page's language", async ({ browser }) => {
  test.setTimeout(test.info().timeout * 3);

  // Czech: a topic key that is not one.
  let page = await adminPage(browser, "cs");
  const cs = STRINGS.cs.s;
  await page.goto("/admin/topics/new");
  await page.waitForLoadState("networkidle");
  await page.getByLabel(cs.topic_form.key).fill("Špatný klíč");
  await page.getByLabel(cs.topic_form.key).evaluate((el) => el.removeAttribute("pattern"));
  await page.getByLabel("Název (angličtina)").fill("Bad key topic");
  await page.getByLabel("Název (polština)").fill("Zły klucz");
  await page.getByRole("button", { name: cs.topic_form.create }).click();
  await expect(page.getByRole("alert")).toHaveText(cs.form.correct_fields);
  await expect(page.getByText(cs.topics.errors.key)).toBeVisible();
  await expect(page.getByLabel("Název (polština)")).toHaveValue("Zły klucz");
  await expectNoAxeViolations(page, "cs new topic with errors");
  await page.screenshot({ path: "/tmp/lang-c-cs-topic-error-1280.png", fullPage: true });

  // Czech: a data source preview that cannot connect; the reason is translated too.
  await page.goto("/admin/sources");
  const form = page.getByRole("region", { name: STRINGS.cs.i.sources.add_title });
  await form.getByLabel(STRINGS.cs.i.sources.fields.name, { exact: true }).fill("Zdroj cs");
  await form
    .getByLabel(STRINGS.cs.i.sources.fields.url, { exact: true })
    .fill("http://127.0.0.1:9/x.csv");
  await form.getByRole("button", { name: STRINGS.cs.i.sources.add }).click();
  await expect(page.getByText(STRINGS.cs.i.source.done.created)).toBeVisible();
  await page.getByRole("button", { name: STRINGS.cs.i.source.fetch }).click();
  await expect(page.getByText("Náhled selhal: Požadavek selhal: ECONNREFUSED.")).toBeVisible();
  await page.screenshot({ path: "/tmp/lang-c-cs-source-1280.png", fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: "/tmp/lang-c-cs-source-360.png", fullPage: true });

  // Polish: a webhook URL on a private address.
  await page.context().close();
  page = await adminPage(browser, "pl");
  await page.goto("/admin/webhooks");
  await page.waitForLoadState("networkidle");
  await page.getByLabel(STRINGS.pl.i.webhooks.url).fill("http://127.0.0.1:9/hook");
  await page.getByRole("button", { name: STRINGS.pl.i.webhooks.register }).click();
  await expect(page.getByRole("alert")).toHaveText(STRINGS.pl.i.form.correct_fields);
  await expect(page.getByText(/^Tego adresu URL nie można użyć: .*127\.0\.0\.1/)).toBeVisible();

  // German: a soft-bounce limit below the minimum, then the saved one again (nothing changes:
  // another spec may have set it, and it stays as it was).
  await page.context().close();
  page = await adminPage(browser, "de");
  await page.goto("/admin/email");
  await page.waitForLoadState("networkidle");
  const limit = page.getByLabel(STRINGS.de.s.email.soft_limit);
  const saved = await limit.inputValue();
  await limit.fill("1");
  await page.getByRole("button", { name: STRINGS.de.s.email.save }).click();
  await expect(page.getByText("Mindestens 2.")).toBeVisible();
  await limit.fill(saved);
  await page.getByRole("button", { name: STRINGS.de.s.email.save }).click();
  await expect(page.getByRole("status")).toHaveText(STRINGS.de.s.email.nothing_changed);
});

test("without JavaScript, a frequency option refused in Czech keeps the page Czech", async ({
  browser,
}) => {
  const page = await adminPage(browser, "cs", {
    javaScriptEnabled: false,
    viewport: { width: 360, height: 740 },
  });
  const cs = STRINGS.cs.s;
  await page.goto("/admin/frequency");
  await h1(page, cs.frequency.title);
  const weekly = page
    .locator("li")
    .filter({ hasText: `${cs.frequency.key_label} weekly` })
    .first();
  await weekly.getByLabel("Nejvýše jedna zpráva za … dní").fill("400");
  await weekly.getByRole("button", { name: cs.frequency.save, exact: true }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "cs");
  await expect(page.getByRole("alert")).toHaveText(cs.form.correct_fields);
  await expect(page.getByText(cs.frequency.errors.window)).toBeVisible();
  await page.screenshot({ path: "/tmp/lang-c-cs-frequency-nojs-360.png", fullPage: true });
  await page.context().close();
});

test("Czech and Polish screenshots of topics, webhooks and data sources at 1280 and 360 px", async ({
  browser,
}) => {
  test.setTimeout(test.info().timeout * 3);
  for (const locale of ["cs", "pl"] as const) {
    const page = await adminPage(browser, locale);
    for (const [name, path] of [
      ["topics", "/admin/topics"],
      ["topic", "/admin/topics/newsletter"],
      ["webhooks", "/admin/webhooks"],
      ["sources", "/admin/sources"],
      ["email", "/admin/email"],
      ["reasons", "/admin/reasons"],
      ["frequency", "/admin/frequency"],
    ] as const) {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(path);
      await expect(page.locator("html")).toHaveAttribute("lang", locale);
      await page.screenshot({ path: `/tmp/lang-c-${locale}-${name}-1280.png`, fullPage: true });
      await page.setViewportSize({ width: 360, height: 740 });
      await page.screenshot({ path: `/tmp/lang-c-${locale}-${name}-360.png`, fullPage: true });
      // Nothing wider than a phone's screen.
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, `${locale} ${path} at 360 px`).toBeLessThanOrEqual(0);
    }
    await page.context().close();
  }
});
