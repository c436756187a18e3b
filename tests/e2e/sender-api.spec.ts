import { execFile } from "node:child_process";
import http from "node:http";
import { promisify } from "node:util";
import { expect, test } from "@playwright/test";
import { FIRST_ADMIN, loginAs } from "./admin-helpers";
import { E2E_DIR, E2E_PORT } from "./env";
import { fixtures } from "./helpers";

/**
 * What a sending system's engineers meet, against the built server: the typed client's campaign
 * example (README) with a key an admin created, JSON answers for everything under /api/, and the
 * words a first SMS sign-up reads. Own addresses: `example-…`, `+4860177…`.
 */
type ApiFixtures = { key: string };
const apiKey = () => fixtures<ApiFixtures>("api").key;
const auth = (key: string) => ({ Authorization: `Bearer ${key}` });
const run = promisify(execFile);

test("the README's campaign send runs with the typed client against this Heed, with a key an admin created", async ({
  page,
  request,
  baseURL,
}) => {
  await loginAs(page, FIRST_ADMIN, "/admin/api-keys");
  await page.waitForLoadState("networkidle");
  await page.getByLabel("Name").fill("example sender");
  for (const scope of ["contacts", "check", "links"]) {
    await page.getByRole("checkbox", { name: new RegExp(`^${scope}`) }).check();
  }
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^heed_/);

  // One of the campaign's recipients unsubscribed earlier.
  const suppressed = await request.post("/api/v1/suppressions", {
    headers: auth(apiKey()),
    data: { channel: "email", addresses: ["grace@example.com"] },
  });
  expect(suppressed.status()).toBe(200);

  const { stdout } = await run("npx", ["tsx", "clients/typescript/example.ts"], {
    env: { ...process.env, HEED_URL: baseURL!, HEED_API_KEY: key, CAMPAIGN_KEY: "e2e-spring" },
    timeout: 60_000,
  });
  const out = JSON.parse(stdout) as {
    campaign: string;
    messages: { to: string; headers: Record<string, string>; footer: string }[];
    skipped: { externalId: string; reason: string }[];
  };
  expect(out.messages.map((m) => m.to)).toEqual(["ada@example.com", "alan@example.com"]);
  expect(out.skipped).toEqual([{ externalId: "example-1002", reason: "unsubscribed" }]);
  for (const m of out.messages) {
    expect(m.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    expect(m.headers["List-Unsubscribe"]).toMatch(
      new RegExp(`^<${baseURL}/u/[\\w-]+\\.[\\w-]+\\.[\\w-]+>$`),
    );
  }

  // The header works as a mailbox provider uses it (RFC 8058): one POST, and Ada is out.
  const oneClick = out.messages[0]!.headers["List-Unsubscribe"]!.slice(1, -1);
  const clicked = await request.post(oneClick, {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    data: "List-Unsubscribe=One-Click",
  });
  expect(clicked.status()).toBe(200);
  const check = await request.post("/api/v1/check", {
    headers: auth(key),
    data: { channel: "email", category: "marketing", recipients: ["ada@example.com"] },
  });
  expect(await check.json()).toEqual({
    results: [{ address: "ada@example.com", allowed: false, reason: "unsubscribed" }],
  });
  // The campaign got its sent count, and the unsubscribe is attributed to it.
  const events = await request.get("/api/v1/events?limit=1000", { headers: auth(apiKey()) });
  const list = (await events.json()) as { events: { address: string; campaign: string }[] };
  expect(list.events.find((e) => e.address === "ada@example.com")).toMatchObject({
    campaign: "e2e-spring",
  });
});

/** A raw request (any method, even those fetch refuses to send). */
function raw(
  method: string,
  path: string,
): Promise<{ status: number; type: string; body: string; allow?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: E2E_PORT, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"] ?? ""),
          body,
          allow: res.headers.allow,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

test("every answer under /api/ is the JSON error shape: unknown paths, wrong methods, methods no route knows", async ({
  request,
}) => {
  const doc = (await (await request.get("/api/v1/openapi.json")).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const expectError = (
    r: { status: number; type: string; body: string },
    status: number,
    code: string,
  ) => {
    expect(r.status).toBe(status);
    expect(r.type).toBe("application/json; charset=utf-8");
    const body = JSON.parse(r.body) as {
      error: { code: string; message: string; details: unknown };
    };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toMatchObject({ code, message: expect.any(String) });
  };
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE"]) {
    expectError(await raw(method, "/api/v1/no-such-thing"), 404, "not_found");
  }
  expectError(await raw("GET", "/api"), 404, "not_found");
  expectError(await raw("GET", "/api/v1/contacts/%ZZ/preferences"), 400, "invalid_path");

  // Every documented path, with every method it does not document: 405 and `Allow`.
  for (const [template, ops] of Object.entries(doc.paths)) {
    const path = template.replace("{externalId}", "someone");
    const documented = Object.keys(ops).map((m) => m.toUpperCase());
    const allow = [...documented, ...(documented.includes("GET") ? ["HEAD"] : [])];
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "PURGE"]) {
      if (documented.includes(method)) continue;
      const r = await raw(method, path);
      expectError(r, 405, "method_not_allowed");
      expect(r.allow?.split(", ").sort()).toEqual(allow.sort());
    }
  }
  // The readable API page answers GET; anything else is the same JSON 405.
  const docs = await raw("POST", "/api/docs");
  expectError(docs, 405, "method_not_allowed");
  expect(docs.allow).toBe("GET, HEAD");
});

test("a first SMS sign-up is asked to confirm a subscription, not to get messages 'again'", async ({
  page,
  browser,
  request,
}) => {
  const phone = "+48601770001";
  const started = await request.post("/api/v1/subscriptions", {
    headers: auth(apiKey()),
    data: { channel: "sms", address: phone, locale: "en" },
  });
  expect(started.status()).toBe(202);

  // The SMS, as the development outbox shows it.
  await page.goto(`/dev/outbox?to=${encodeURIComponent(phone)}`);
  await page.locator('a[href^="/dev/outbox/"]').first().click();
  const sms = page.getByText(/confirm that you want to receive our messages/);
  await expect(sms).toBeVisible();
  await expect(page.getByText(/again/)).toHaveCount(0);
  const short = await page.locator('a[href*="/s/"]').first().getAttribute("href");

  // The confirmation page, on a phone, without JavaScript.
  const context = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 360, height: 780 },
  });
  const phonePage = await context.newPage();
  await phonePage.goto(short!);
  await expect(
    phonePage.getByText("Confirm that you want to receive text messages from"),
  ).toBeVisible();
  await expect(phonePage.getByText(/again/)).toHaveCount(0);
  await phonePage.screenshot({
    path: `${E2E_DIR}-artifacts/signup-sms-confirm-360.png`,
    fullPage: true,
  });
  await phonePage.getByRole("button", { name: "Confirm my subscription" }).click();
  await expect(
    phonePage.getByRole("heading", { level: 1, name: "You are subscribed" }),
  ).toBeVisible();
  await expect(phonePage.getByText(/again/)).toHaveCount(0);
  await phonePage.screenshot({
    path: `${E2E_DIR}-artifacts/signup-sms-confirmed-360.png`,
    fullPage: true,
  });
  await context.close();
});
