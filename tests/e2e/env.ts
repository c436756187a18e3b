import path from "node:path";

// Overridable so that several people (or agents) can run the browser suite at once.
export const E2E_PORT = Number(process.env.E2E_PORT ?? 3210);
export const E2E_DIR = path.resolve(process.env.E2E_DIR ?? "tests/.tmp/e2e");
export const BUILD_DIR = process.env.HEED_BUILD_DIR ?? "build";
export const E2E_DATA_DIR = path.join(E2E_DIR, "data");
export const E2E_FIXTURES = path.join(E2E_DIR, "fixtures.json");

/** The environment shared by the seed step and the server under test. */
export const E2E_ENV: Record<string, string> = {
  NODE_ENV: "development",
  PORT: String(E2E_PORT),
  HOST: "127.0.0.1",
  PUBLIC_URL: `http://localhost:${E2E_PORT}`,
  // A production build of these tests on plain http (env.server.ts refuses it otherwise).
  ALLOW_INSECURE_PUBLIC_URL: "1",
  HEED_DATA_DIR: E2E_DATA_DIR,
  DEMO_DATA: "1",
  LOG_LEVEL: "warn",
  SIGNING_KEYS: "e2e-1:e2e-signing-key-0123456789abcdef0123456789",
  SESSION_SECRET: "e2e-session-secret-0123456789abcdef0123456789",
  ADDRESS_HASH_KEY: "e2e-address-hash-key-0123456789abcdef01234567",
  FIRST_ADMIN_EMAIL: "admin@e2e.test",
  FIRST_ADMIN_PASSWORD: "e2e-admin-password-1",
  // Email provider webhooks (tests/e2e/email.spec.ts): Postmark's basic auth credentials.
  POSTMARK_WEBHOOK_USERNAME: "heed-e2e",
  POSTMARK_WEBHOOK_PASSWORD: "e2e-postmark-password-1",
  // Data sources (tests/e2e/sources.spec.ts) fetch from the spec's own server on 127.0.0.1 over
  // http: a test-only allowance of the SSRF guard (refused in production).
  DATA_SOURCES_TEST_ALLOW_LOCAL: "1",
};
