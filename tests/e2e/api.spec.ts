import AxeBuilder from "@axe-core/playwright";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { loginAs } from "./admin-helpers";
import { fixtures } from "./helpers";

/**
 * The sender API through the real server (express + Remix), the readable API page, and the
 * admin pages for API keys and webhooks. Own contacts and addresses: `api-…`.
 */
type ApiFixtures = {
  key: string;
  checkOnlyKey: string;
  admin: { email: string; password: string };
};
const f = () => fixtures<ApiFixtures>("api");

const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

function auth(key: string) {
  return { Authorization: `Bearer ${key}` };
}

async function shoot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

/**
 * Waits until Remix has hydrated the page, so its forms submit with fetch. (A native form POST
 * from a page served with `Referrer-Policy: no-referrer` carries `Origin: null`, which Remix's
 * document-request CSRF check refuses with a 500: reported to the lead.)
 */
async function hydrated(page: Page) {
  await page.waitForLoadState("networkidle");
}

async function expectNoAxeViolations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  expect(
    violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
  ).toEqual([]);
}

async function apiJson(
  request: APIRequestContext,
  method: string,
  path: string,
  key: string,
  data?: unknown,
) {
  const res = await request.fetch(path, { method, headers: auth(key), data });
  return { status: res.status(), body: await res.json() };
}

test("a sending system registers a contact, gets links, and sees a one-click unsubscribe in check, events and the export", async ({
  request,
}) => {
  const { key } = f();
  const email = "api-flow@e2e.test";
  const put = await apiJson(request, "PUT", "/api/v1/contacts/api-flow-1", key, {
    email,
    locale: "en",
  });
  expect(put.status).toBe(201);

  const links = await apiJson(request, "POST", "/api/v1/links", key, {
    externalId: "api-flow-1",
    channel: "email",
    campaign: "api-e2e-camp",
  });
  expect(links.status).toBe(200);
  expect(links.body.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
  const unsubscribeUrl = new URL(links.body.unsubscribeUrl as string);

  const before = await apiJson(request, "POST", "/api/v1/check", key, {
    channel: "email",
    category: "marketing",
    recipients: [email],
  });
  expect(before.body.results).toEqual([{ address: email, allowed: true }]);
  // Start the events feed at its end.
  let cursor: string | null = null;
  for (;;) {
    const page = await apiJson(
      request,
      "GET",
      `/api/v1/events?limit=1000${cursor ? `&after=${cursor}` : ""}`,
      key,
    );
    cursor = page.body.nextCursor;
    if (!page.body.hasMore) break;
  }

  // The mailbox provider's one-click POST (RFC 8058) on the link the API made.
  const oneClick = await request.post(unsubscribeUrl.pathname, {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    data: "List-Unsubscribe=One-Click",
  });
  expect(oneClick.status()).toBe(200);

  const after = await apiJson(request, "POST", "/api/v1/check", key, {
    channel: "email",
    category: "marketing",
    recipients: [email, "API-FLOW@e2e.test"],
  });
  expect(after.body.results).toEqual([
    { address: email, allowed: false, reason: "unsubscribed" },
    { address: "API-FLOW@e2e.test", allowed: false, reason: "unsubscribed" },
  ]);
  const events = await apiJson(request, "GET", `/api/v1/events?after=${cursor}`, key);
  expect(events.body.events).toEqual([
    expect.objectContaining({
      type: "consent.unsubscribe",
      address: email,
      source: "one_click",
      campaign: "api-e2e-camp",
      externalId: "api-flow-1",
    }),
  ]);
  const csv = await request.get("/api/v1/suppressions.csv?channel=email&source=one_click", {
    headers: auth(key),
  });
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  expect(await csv.text()).toContain(`${email},email,`);
});

test("bad input through the real server gets the API's error shape, never a 500", async ({
  request,
}) => {
  const { key, checkOnlyKey } = f();
  const noKey = await request.post("/api/v1/check", { data: {} });
  expect(noKey.status()).toBe(401);
  expect((await noKey.json()).error.code).toBe("unauthorized");

  const scope = await request.get("/api/v1/events", { headers: auth(checkOnlyKey) });
  expect(scope.status()).toBe(403);

  const badJson = await request.post("/api/v1/check", {
    headers: { ...auth(key), "Content-Type": "application/json" },
    data: Buffer.from("{oops"),
  });
  expect(badJson.status()).toBe(400);
  expect((await badJson.json()).error.code).toBe("invalid_json");

  const huge = await request.post("/api/v1/check", {
    headers: { ...auth(key), "Content-Type": "application/json" },
    data: Buffer.from(`{"recipients":["${"a".repeat(6 * 1024 * 1024)}"]}`),
  });
  expect(huge.status()).toBe(413);

  const invalid = await request.post("/api/v1/check", {
    headers: auth(key),
    data: { channel: "pigeon", category: "marketing", recipients: ["x"] },
  });
  expect(invalid.status()).toBe(400);
  expect((await invalid.json()).error.details.issues[0].path).toBe("channel");

  const unknown = await request.get("/api/v1/contacts/api-nobody/preferences", {
    headers: auth(key),
  });
  expect(unknown.status()).toBe(404);

  const twilio = await request.post("/webhooks/sms/twilio", {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    data: "From=%2B48601999001&Body=STOP",
  });
  expect(twilio.status()).toBe(403);
});

test("the OpenAPI document and the readable API page", async ({ page, request }) => {
  const doc = await request.get("/api/v1/openapi.json");
  expect(doc.status()).toBe(200);
  const body = await doc.json();
  expect(body.openapi).toBe("3.1.0");
  expect(Object.keys(body.paths)).toContain("/api/v1/check");

  await page.goto("/api/docs");
  await expect(page.getByRole("heading", { level: 1, name: "Heed sender API" })).toBeVisible();
  await expect(page.getByRole("heading", { name: /POST\s*\/api\/v1\/check/ })).toBeVisible();
  await expectNoAxeViolations(page);
  await shoot(page, "api-docs-desktop");
  await page.setViewportSize({ width: 360, height: 780 });
  await shoot(page, "api-docs-360");
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth + 1,
  );
  expect(overflow).toBe(false);
});

test("an admin creates an API key (shown once), it works, and revoking it stops it at once", async ({
  page,
  request,
}) => {
  await loginAs(page, f().admin, "/admin/api-keys");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "API keys" })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByLabel("Name").fill("api-e2e checker");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.getByRole("alert")).toContainText("Please correct the fields");
  await expect(page.getByText("Choose at least one scope.")).toBeVisible();
  await page.getByLabel("Name").fill("api-e2e checker");
  await page.getByRole("checkbox", { name: /^check/ }).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^heed_[0-9a-f]{12}_/);
  await shoot(page, "admin-api-keys-created");

  const ok = await request.post("/api/v1/check", {
    headers: auth(key),
    data: { channel: "sms", category: "marketing", recipients: ["+48601999002"] },
  });
  expect(ok.status()).toBe(200);

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("new-api-key")).toHaveCount(0); // never shown again
  const row = page.locator("tr", { hasText: "api-e2e checker" });
  await row.getByRole("button", { name: /Revoke/ }).click();
  await expect(page.getByRole("status")).toContainText("Revoked");
  const revoked = await request.post("/api/v1/check", {
    headers: auth(key),
    data: { channel: "sms", category: "marketing", recipients: ["+48601999002"] },
  });
  expect(revoked.status()).toBe(401);
  await page.setViewportSize({ width: 360, height: 780 });
  await shoot(page, "admin-api-keys-360");
});

test("an admin registers a webhook endpoint (secret shown once), private URLs are refused, deliveries are listed", async ({
  page,
  request,
}) => {
  await loginAs(page, f().admin, "/admin/webhooks");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "Webhooks" })).toBeVisible();
  await expectNoAxeViolations(page);

  await page.getByLabel("URL").fill("http://127.0.0.1:9/hook");
  await page.getByRole("button", { name: "Register endpoint" }).click();
  await expect(page.getByText(/This URL cannot be used: .*private/)).toBeVisible();

  await page.getByLabel("URL").fill("https://93.184.215.14/api-e2e-hook");
  await page.getByLabel("Description (optional)").fill("api-e2e receiver");
  await page.getByRole("button", { name: "Register endpoint" }).click();
  await expect(page.getByTestId("webhook-secret")).toHaveText(/^whsec_/);
  await shoot(page, "admin-webhooks-created");

  // A consent change queues a delivery for it.
  const res = await request.post("/api/v1/suppressions", {
    headers: auth(f().key),
    data: { channel: "email", addresses: ["api-webhook@e2e.test"], note: "e2e" },
  });
  expect(await res.json()).toMatchObject({ suppressed: 1 });

  await page.getByRole("link", { name: "See its deliveries" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Webhook endpoint" })).toBeVisible();
  await hydrated(page);
  await expect(page.getByRole("cell", { name: /consent\.unsubscribe/ }).first()).toBeVisible();
  await expectNoAxeViolations(page);
  await shoot(page, "admin-webhook-endpoint");
  await page.getByRole("button", { name: "Disable" }).click();
  await expect(page.getByRole("status")).toContainText("Endpoint disabled");
  await expect(page.getByRole("button", { name: "Enable" })).toBeVisible();
  await expect(page.getByText("disabled by api-admin@e2e.test")).toBeVisible();
  await page.setViewportSize({ width: 360, height: 780 });
  await shoot(page, "admin-webhook-endpoint-360");
});
