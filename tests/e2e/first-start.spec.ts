import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { BUILD_DIR } from "./env";

/**
 * The built app on a brand-new data directory, with no secrets configured: it generates its dev
 * secrets, migrates, creates the first admin and demo data, and serves / and /healthz.
 */
const PORT = Number(process.env.E2E_PORT ?? 3210) + 80;

async function waitForHealth(url: string, child: ChildProcess, output: () => string) {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output()}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not become healthy:\n${output()}`);
}

test("the built app starts on a fresh data directory; / and /healthz answer in Chromium", async ({
  page,
}) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-first-start-"));
  let output = "";
  const env = {
    ...process.env,
    NODE_ENV: "development",
    PORT: String(PORT),
    HOST: "127.0.0.1",
    HEED_DATA_DIR: dataDir,
  } as NodeJS.ProcessEnv;
  for (const k of [
    "DATABASE_URL",
    "SIGNING_KEYS",
    "SESSION_SECRET",
    "ADDRESS_HASH_KEY",
    "FIRST_ADMIN_EMAIL",
    "FIRST_ADMIN_PASSWORD",
    "DEMO_DATA",
  ])
    delete env[k];
  const child = spawn(process.execPath, [`${BUILD_DIR}/index.js`], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  try {
    await waitForHealth(`http://127.0.0.1:${PORT}/healthz`, child, () => output);

    // The terminal shows the demo preference link and the first admin's login.
    expect(output).toMatch(
      new RegExp(`Demo preference page: http://localhost:${PORT}/p/[\\w-]+\\.[\\w-]+\\.[\\w-]+`),
    );
    expect(output).toMatch(/Admin login: .*\/admin\/login {2}admin@heed\.local \/ \S{12,}/);
    expect(fs.existsSync(path.join(dataDir, "secrets.json"))).toBe(true);

    const health = await page.goto(`http://127.0.0.1:${PORT}/healthz`);
    expect(health!.status()).toBe(200);
    expect(await health!.json()).toMatchObject({
      status: "ok",
      database: { kind: "pglite", ok: true },
    });

    const home = await page.goto(`http://127.0.0.1:${PORT}/`);
    expect(home!.status()).toBe(200);
    await expect(page.getByRole("heading", { level: 1, name: "Heed" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Demo preference page" })).toHaveAttribute(
      "href",
      /^\/p\//,
    );
    await expect(page.getByRole("link", { name: "Admin login" })).toBeVisible();
    expect(home!.headers()["content-security-policy"]).toContain("nonce-");
    expect(home!.headers()["referrer-policy"]).toBe("no-referrer");
  } finally {
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) =>
      child.once("exit", (c) => resolve(c)),
    );
    // Graceful shutdown: exit 0 and the PGlite lock released.
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "heed.lock"))).toBe(false);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the seeded e2e server answers /healthz and the home page in Chromium", async ({ page }) => {
  const res = await page.goto("/healthz");
  expect(res!.status()).toBe(200);
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Heed" })).toBeVisible();
});
