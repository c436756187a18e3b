import path from "node:path";
import { z } from "zod";

/**
 * Configuration, parsed once from process.env and frozen. Every variable is documented in
 * README.md ("Configuration"). A bad value fails fast with a message naming the variable.
 */

const booleanish = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .transform((v) => v?.replace(/\/+$/, "")),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  HEED_DATA_DIR: z.string().min(1).default("./data"),
  SIGNING_KEYS: z.string().optional(),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  ADDRESS_HASH_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  FIRST_ADMIN_EMAIL: z.email().optional(),
  FIRST_ADMIN_PASSWORD: z.string().min(12, "must be at least 12 characters").optional(),
  DEMO_DATA: booleanish.optional(),
  DEFAULT_PHONE_REGION: z
    .string()
    .regex(/^[A-Z]{2}$/, "must be a two-letter ISO 3166 country code such as PL")
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUST_PROXY: booleanish.default(false),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // Mail and the outbox (issue 4)
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, "must be an smtp:// or smtps:// URL")
    .optional(),
  MAIL_FROM: z
    .string()
    .max(320)
    .regex(/^[^\r\n]*@[^\r\n]*$/, "must be an address such as Heed <no-reply@example.com>")
    .optional(),
  OUTBOX_POLL_MS: z.coerce.number().int().min(200).max(600_000).default(2000),
  // Sender API, SMS and outbound webhooks (issue 7)
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  UNSUBSCRIBE_MAILTO: z.email().optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, "must look like AC + 32 hex digits")
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(8).optional(),
  TWILIO_FROM: z.string().min(2).optional(),
  TWILIO_WHATSAPP_FROM: z.string().min(2).optional(),
  TWILIO_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  WEBHOOKS_ALLOW_PRIVATE: booleanish.default(false),
  ADMIN_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  ADMIN_SESSION_MAX_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 24)
    .default(12),
  // Reports and unsubscribe-rate alerts (issue 8); the admin area's alert settings override these.
  UNSUBSCRIBE_ALERT_THRESHOLD_PERCENT: z.coerce.number().min(0.01).max(100).default(1),
  UNSUBSCRIBE_ALERT_EMAIL: z.email().optional(),
  // Bulk import of suppressions (issue 6)
  IMPORT_MAX_FILE_MB: z.coerce.number().int().min(1).max(10_240).default(200),
  IMPORT_MAX_ROWS: z.coerce.number().int().min(1).default(5_000_000),
  IMPORT_MAX_ZIP_RATIO: z.coerce.number().int().min(2).max(10_000).default(100),
  // Database faults (issue 11): how long a request waits for a PostgreSQL connection before 503.
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  // PGlite in a worker thread, off the thread that answers requests (issue 14); 0 for in-thread.
  PGLITE_WORKER: booleanish.default(true),
});

export type Env = Readonly<
  z.infer<typeof EnvSchema> & { isProduction: boolean; dataDir: string; publicUrl: string }
>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  // Treat empty strings as unset, so `FOO=` in a .env file means "use the default".
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ""),
  );
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = result.data;
  return Object.freeze({
    ...e,
    isProduction: e.NODE_ENV === "production",
    dataDir: path.resolve(e.HEED_DATA_DIR),
    publicUrl: e.PUBLIC_URL ?? `http://localhost:${e.PORT}`,
  });
}

let cached: Env | undefined;

/** The process's configuration, parsed on first use. */
export function getEnv(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}

/** For tests and CLIs that change process.env before first use. */
export function resetEnvForTests(): void {
  cached = undefined;
}
