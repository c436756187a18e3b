/**
 * `npm run bench -- token`: seeds a fresh data directory with the e2e fixtures, starts the built
 * server in production mode, and runs tests/bench/token-pages.ts (GET /p/{token}, GET /u/{token}
 * next to the trivial `/`). Builds first if there is no build.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const buildDir = process.env.HEED_BUILD_DIR ?? "build";
if (!fs.existsSync(path.join(buildDir, "index.js"))) {
  if (spawnSync("npx", ["remix", "build"], { stdio: "inherit" }).status !== 0) process.exit(1);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-bench-token-"));
const port = Number(process.env.BENCH_PORT ?? 3395);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  SIGNING_KEYS: "bench-1:bench-signing-key-0123456789abcdef0123456789",
  SESSION_SECRET: "bench-session-secret-0123456789abcdef0123456789",
  ADDRESS_HASH_KEY: "bench-address-hash-key-0123456789abcdef01234567",
  FIRST_ADMIN_EMAIL: "admin@bench.test",
  FIRST_ADMIN_PASSWORD: "bench-admin-password-1",
  E2E_DIR: dir,
  HEED_DATA_DIR: path.join(dir, "data"),
  PUBLIC_URL: `http://localhost:${port}`,
  ALLOW_INSECURE_PUBLIC_URL: "1",
};
delete env.DATABASE_URL;
const seeded = spawnSync("npx", ["tsx", "tests/e2e/seed.ts"], {
  stdio: "inherit",
  env: { ...env, NODE_ENV: "development", DEMO_DATA: "1" },
});
if (seeded.status !== 0) process.exit(1);

const server = spawn(process.execPath, [path.join(buildDir, "index.js")], {
  env: { ...env, NODE_ENV: "production", LOG_LEVEL: "warn", PORT: String(port), HOST: "127.0.0.1" },
  stdio: ["ignore", "ignore", "inherit"],
});
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      /* starting */
    }
    if (i > 150) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  const r = spawnSync("npx", ["tsx", "tests/bench/token-pages.ts"], {
    stdio: "inherit",
    env: {
      ...env,
      BENCH_URL: `http://127.0.0.1:${port}`,
      BENCH_FIXTURES: path.join(dir, "fixtures.json"),
    },
  });
  process.exitCode = r.status ?? 1;
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  fs.rmSync(dir, { recursive: true, force: true });
}
