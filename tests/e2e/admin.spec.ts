import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { csrfToken, FIRST_ADMIN, loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * The admin area in Chromium: an agent suppresses SMS for a contact, the recipient's
 * preference page shows it, an admin removes it with a note, the audit log shows both; login
 * rate limiting, session expiry, CSRF refusals.
 */

type User = { email: string; password: string };
type AdminFx = {
  users: Record<"agent" | "walker" | "walkerAdmin" | "locked" | "csrf" | "expired", User>;
  contact: { id: string; externalId: string; email: string; phone: string; preferences: string };
  csrfAddress: string;
  expiredSession: { name: string; value: string };
};
const fx = () => fixtures<AdminFx>("admin");

async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

async function expectNoAxeViolations(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(
    result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    label,
  ).toEqual([]);
}

const channelRow = (page: Page, channel: "email" | "sms" | "whatsapp") =>
  page.getByRole("region", { name: "Channels" }).locator(`tr[data-channel="${channel}"]`);

test("an agent suppresses SMS with a note; the preference page shows it; an admin removes it with a note; the audit log shows both", async ({
  browser,
}) => {
  test.slow(); // three browser contexts, axe twice, screenshots
  const { users, contact } = fx();
  const note = "Customer called support: no more texts (ticket 4711)";
  const removal = "Customer asked in writing to get texts again (ticket 4788)";

  // 1. The agent logs in and finds the contact by its email, typed loosely.
  const agentCtx = await browser.newContext();
  const agent = await agentCtx.newPage();
  await loginAs(agent, users.agent);
  await agent.getByRole("link", { name: "Contacts", exact: true }).click();
  await expect(agent.getByRole("heading", { level: 1, name: "Contacts" })).toBeVisible();
  await agent
    .getByRole("searchbox", { name: "Email, phone or external id", exact: true })
    .fill(`  ${contact.email.toUpperCase()} `);
  await agent.getByRole("button", { name: "Search", exact: true }).click();
  await agent.getByRole("link", { name: contact.email }).click();
  await expect(agent.getByRole("heading", { level: 1, name: contact.email })).toBeVisible();
  await expect(channelRow(agent, "sms")).toContainText("subscribed");

  // 2. Suppress SMS only, with a note. An agent is not offered to remove suppressions.
  const suppress = agent.getByRole("region", { name: "Suppress", exact: true });
  await suppress.getByLabel("Channel").selectOption("sms");
  // The note is required (a blank one is refused by the server too).
  await suppress.getByLabel("Note (required)").fill("   ");
  await suppress.getByRole("button", { name: "Suppress" }).click();
  await expect(agent.getByRole("alert")).toContainText("Please correct");
  await expect(agent.getByText("Write a note: why, and on whose request.")).toBeVisible();
  await expect(channelRow(agent, "sms")).not.toContainText("unsubscribed");
  await suppress.getByLabel("Channel").selectOption("sms");
  await suppress.getByLabel("Note (required)").fill(note);
  await suppress.getByRole("button", { name: "Suppress" }).click();
  await expect(agent.getByRole("status").filter({ hasText: "Suppressed." })).toBeVisible();
  await expect(channelRow(agent, "sms")).toContainText("unsubscribed");
  await expect(channelRow(agent, "email")).not.toContainText("unsubscribed");
  await expect(channelRow(agent, "whatsapp")).not.toContainText("unsubscribed");
  const history = agent.getByRole("region", { name: "History" });
  const first = history.locator("tbody tr").first();
  await expect(first).toContainText("Unsubscribed · SMS");
  await expect(first).toContainText(note);
  await expect(first).toContainText("admin");
  await expect(first).toContainText(users.agent.email);
  await expect(first).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  await expect(agent.getByRole("region", { name: "Remove a suppression" })).toHaveCount(0);
  await expectNoAxeViolations(agent, "contact page (agent)");
  await shot(agent, "contact-agent-desktop");
  await agent.setViewportSize({ width: 820, height: 1180 }); // tablet
  await shot(agent, "contact-agent-tablet");
  await agentCtx.close();

  // 3. The recipient's preference page shows SMS unsubscribed (and the other channels not).
  const publicCtx = await browser.newContext();
  const recipient = await publicCtx.newPage();
  await recipient.goto(`/p/${contact.preferences}`);
  await expect(recipient.getByTestId("ch-sms-state")).toHaveText("Unsubscribed");
  await expect(recipient.getByTestId("ch-email-state")).toHaveText("Subscribed");
  await publicCtx.close();

  // 4. An admin removes the suppression; the note is mandatory.
  const adminCtx = await browser.newContext();
  const admin = await adminCtx.newPage();
  await loginAs(admin, FIRST_ADMIN, `/admin/contacts/${contact.id}`);
  await expect(admin.getByRole("heading", { level: 1, name: contact.email })).toBeVisible();
  const unsuppress = admin.getByRole("region", { name: "Remove a suppression" });
  await unsuppress.getByLabel("Channel").selectOption("sms");
  await unsuppress.getByLabel("Note (required)").fill("   ");
  await unsuppress.getByRole("button", { name: "Remove suppression" }).click();
  await expect(admin.getByRole("alert")).toBeVisible();
  await expect(channelRow(admin, "sms")).toContainText("unsubscribed");
  await admin
    .getByRole("region", { name: "Remove a suppression" })
    .getByLabel("Note (required)")
    .fill(removal);
  await admin
    .getByRole("region", { name: "Remove a suppression" })
    .getByRole("button", { name: "Remove suppression" })
    .click();
  await expect(admin.getByRole("status").filter({ hasText: "Suppression removed." })).toBeVisible();
  await expect(channelRow(admin, "sms")).not.toContainText("unsubscribed");
  const latest = admin.getByRole("region", { name: "History" }).locator("tbody tr").first();
  await expect(latest).toContainText("Subscribed · SMS");
  await expect(latest).toContainText(removal);
  await expect(latest).toContainText(FIRST_ADMIN.email);

  // 5. The audit log shows both, with who and from where.
  await admin.getByRole("link", { name: "Audit log" }).click();
  await admin.getByLabel("Action starts with").fill("suppression");
  await admin.getByRole("button", { name: "Filter" }).click();
  const add = admin.locator('tr[data-audit-action="suppression.add"]').filter({ hasText: note });
  const remove = admin
    .locator('tr[data-audit-action="suppression.remove"]')
    .filter({ hasText: removal });
  await expect(add).toHaveCount(1);
  await expect(add).toContainText(users.agent.email);
  await expect(add).toContainText("sms +4860*****01");
  await expect(add).toContainText("127.0.0.1");
  await expect(remove).toHaveCount(1);
  await expect(remove).toContainText(FIRST_ADMIN.email);
  await expectNoAxeViolations(admin, "audit log");
  await shot(admin, "audit-desktop");
  await adminCtx.close();
});

test("login: wrong passwords and unknown emails get the same message; after 5 failures the account is locked", async ({
  page,
}) => {
  const { users } = fx();
  await page.goto("/admin/login");
  await expectNoAxeViolations(page, "login page");
  const attempt = async (email: string, password: string) => {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    return page.getByRole("alert");
  };
  await expect(await attempt("admin-nobody@e2e.test", "whatever-password")).toHaveText(
    "The email or password is incorrect.",
  );
  for (let i = 0; i < 5; i++) {
    await expect(await attempt(users.locked.email, `wrong-password-${i}`)).toHaveText(
      "The email or password is incorrect.",
    );
  }
  // Now even the right password is refused for a while, with a clear message.
  await expect(await attempt(users.locked.email, users.locked.password)).toHaveText(
    /^Too many failed login attempts\. Try again in 1[45] minutes\.$/,
  );
  await expect(page).toHaveURL(/\/admin\/login/);
  await shot(page, "login-locked");
  await page.setViewportSize({ width: 360, height: 740 });
  await shot(page, "login-locked-phone");
});

test("sessions expire: an expired session cookie leads to the login page and back", async ({
  page,
  context,
}) => {
  const { expiredSession, users } = fx();
  await context.addCookies([
    { ...expiredSession, domain: "localhost", path: "/", httpOnly: true, sameSite: "Lax" },
  ]);
  await page.goto("/admin/contacts?q=admin-story");
  await expect(page).toHaveURL(/\/admin\/login\?redirectTo=%2Fadmin%2Fcontacts%3Fq%3Dadmin-story$/);
  await expect(page.getByRole("heading", { name: "Log in to Heed admin" })).toBeVisible();
  // Logging in goes back where the operator was going.
  await page.getByLabel("Email").fill(users.expired.email);
  await page.getByLabel("Password").fill(users.expired.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/admin\/contacts\?q=admin-story$/);
  const cookie = (await context.cookies()).find((c) => c.name === expiredSession.name)!;
  expect(cookie.httpOnly).toBe(true);
  expect(cookie.sameSite).toBe("Lax");

  // Logging out (a POST) ends the session on the server: the old cookie no longer works.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/admin\/login$/);
  const replay = await page.request.get("/admin/contacts", {
    maxRedirects: 0,
    headers: { Cookie: `${cookie.name}=${cookie.value}` },
  });
  expect(replay.status()).toBe(302);
  expect(replay.headers()["location"]).toMatch(/^\/admin\/login/);
});

test("CSRF: an admin POST without the session's token, or marked cross-site by the browser, is refused and changes nothing", async ({
  page,
}) => {
  const { users, csrfAddress } = fx();
  await loginAs(page, users.csrf);
  await page.goto("/admin/suppressions");
  const token = await csrfToken(page);
  expect(token.length).toBeGreaterThan(20);
  const form = { intent: "suppress", address: csrfAddress, scope: "all", note: "csrf probe" };

  // With the session cookie but no token, or another session's token: 403.
  const noToken = await page.request.post("/admin/suppressions", { form, maxRedirects: 0 });
  expect(noToken.status()).toBe(403);
  expect(await noToken.text()).toContain("security token");
  const wrongToken = await page.request.post("/admin/suppressions", {
    form: { ...form, csrf: `${token.slice(0, -2)}xx` },
    maxRedirects: 0,
  });
  expect(wrongToken.status()).toBe(403);
  // With the right token, but the browser says the form came from another site: 403.
  const crossSite = await page.request.post("/admin/suppressions", {
    form: { ...form, csrf: token },
    maxRedirects: 0,
    headers: { "Sec-Fetch-Site": "cross-site" },
  });
  expect(crossSite.status()).toBe(403);
  expect(await crossSite.text()).toContain("cross-site request refused");

  // Nothing was suppressed.
  await page.goto(`/admin/suppressions?${new URLSearchParams({ address: csrfAddress })}`);
  await expect(page.getByRole("region", { name: `State of ${csrfAddress}` })).not.toContainText(
    "unsubscribed",
  );
  await expect(page.getByRole("region", { name: "History" })).toContainText(
    "Nothing recorded yet.",
  );

  // The same form from Heed's own page works (the token and origin are right).
  const suppress = page.getByRole("region", { name: "Suppress an address" });
  await suppress.getByLabel("Note (required)").fill("Legitimate request");
  await suppress.getByRole("button", { name: "Suppress" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Suppressed." })).toBeVisible();
  await expect(page.getByRole("region", { name: `State of ${csrfAddress}` })).toContainText(
    "unsubscribed",
  );
});

/**
 * Needs `app.use(refuseCrossSiteAdminWrites)` (app/admin/provenance-middleware.server.ts) in
 * app/server/http.server.ts: without it, Remix's own Origin check answers these with an empty 500.
 */
test("CSRF: a form on another site posting to /admin in the signed-in browser gets a clear 403", async ({
  page,
  context,
}) => {
  const { users } = fx();
  await loginAs(page, users.csrf);
  await page.goto("/admin/suppressions");
  const token = await csrfToken(page);
  const target = "admin-csrf-attack@e2e.test";
  const form = {
    intent: "suppress",
    address: target,
    scope: "all",
    note: "csrf probe",
    csrf: token,
  };

  // A page on another site auto-submits a form to Heed (even with a stolen token).
  await context.route("http://evil.test/**", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><html><body><form id="f" method="post" action="${new URL("/admin/suppressions", page.url()).href}">
        ${Object.entries(form)
          .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
          .join("")}
        </form><script>document.getElementById("f").submit()</script></body></html>`,
    }),
  );
  const attacker = await context.newPage();
  const posted = attacker.waitForResponse(
    (r) => r.url().includes("/admin/suppressions") && r.request().method() === "POST",
  );
  await attacker.goto("http://evil.test/attack");
  const res = await posted;
  expect(res.status()).toBe(403);
  expect(await res.text()).toContain("cross-site request refused");
  await attacker.close();

  // A foreign Origin from any client, and a login form posted from another site: 403 too.
  const foreign = await page.request.post("/admin/suppressions", {
    form,
    maxRedirects: 0,
    headers: { Origin: "http://evil.test" },
  });
  expect(foreign.status()).toBe(403);
  const loginCsrf = await page.request.post("/admin/login", {
    form: { email: users.csrf.email, password: users.csrf.password },
    maxRedirects: 0,
    headers: { Origin: "http://evil.test" },
  });
  expect(loginCsrf.status()).toBe(403);

  await page.goto(`/admin/suppressions?${new URLSearchParams({ address: target })}`);
  await expect(page.getByRole("region", { name: "History" })).toContainText(
    "Nothing recorded yet.",
  );
});
