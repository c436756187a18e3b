import net from "node:net";
import path from "node:path";
import { z } from "zod";

/**
 * Configuration, parsed once from process.env and frozen. Every variable is documented in
 * README.md ("Configuration"). A bad value fails fast with a message naming the variable.
 */

const booleanish = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

export type ProviderName = "twilio" | "vonage" | "plivo" | "telnyx" | "meta";

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // Default: 127.0.0.1 in development and test (the development mode shows live preference
  // links at /dev/outbox), 0.0.0.0 in production. See listenHost().
  HOST: z.string().min(1).optional(),
  // Production refuses an http:// PUBLIC_URL (RFC 8058 one-click URIs must be HTTPS) unless this
  // is set, for trials on a laptop or behind a proxy that only the operator reaches.
  ALLOW_INSECURE_PUBLIC_URL: booleanish.default(false),
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
  UNSUBSCRIBE_MAILTO: z
    .email()
    .refine((v) => /^[^+@]{1,37}@/.test(v), {
      message:
        "its local part must have at most 37 characters and no '+' (Heed adds +code to it for each link)",
    })
    .optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, "must look like AC + 32 hex digits")
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(8).optional(),
  TWILIO_FROM: z.string().min(2).optional(),
  TWILIO_WHATSAPP_FROM: z.string().min(2).optional(),
  TWILIO_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  WEBHOOKS_ALLOW_PRIVATE: booleanish.default(false),
  // SMS/WhatsApp providers (issue 12): inbound webhooks, outbound replies per channel.
  SMS_PROVIDER: z.enum(["twilio", "vonage", "plivo", "telnyx"]).optional(),
  WHATSAPP_PROVIDER: z.enum(["meta", "twilio", "vonage"]).optional(),
  PROVIDER_ANSWERS_KEYWORDS: z
    .string()
    .regex(
      /^\s*(none|((twilio|vonage|plivo|telnyx|meta)\s*(,\s*(twilio|vonage|plivo|telnyx|meta)\s*)*))\s*$/,
      "must be none or a comma-separated list of twilio, vonage, plivo, telnyx, meta",
    )
    .default("twilio")
    .transform((v) =>
      v.trim() === "none"
        ? ([] as ProviderName[])
        : [...new Set(v.split(",").map((x) => x.trim() as ProviderName))],
    ),
  SMS_KEYWORD_NUMBER: z.string().trim().min(2).max(32).optional(),
  WHATSAPP_KEYWORD_NUMBER: z.string().trim().min(2).max(32).optional(),
  VONAGE_API_KEY: z.string().min(1).optional(),
  VONAGE_API_SECRET: z.string().min(1).optional(),
  VONAGE_SIGNATURE_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  VONAGE_FROM: z.string().min(2).optional(),
  VONAGE_WHATSAPP_FROM: z.string().min(2).optional(),
  PLIVO_AUTH_ID: z.string().min(1).optional(),
  PLIVO_AUTH_TOKEN: z.string().min(8).optional(),
  PLIVO_FROM: z.string().min(2).optional(),
  PLIVO_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  TELNYX_API_KEY: z.string().min(1).optional(),
  TELNYX_PUBLIC_KEY: z
    .string()
    .regex(
      /^[A-Za-z0-9+/]{43}=$/,
      "must be the base64 Ed25519 public key from Telnyx (44 characters)",
    )
    .optional(),
  TELNYX_FROM: z.string().min(2).optional(),
  TELNYX_MESSAGING_PROFILE_ID: z.string().min(1).optional(),
  TELNYX_TIMESTAMP_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  WHATSAPP_VERIFY_TOKEN: z.string().min(8).optional(),
  WHATSAPP_APP_SECRET: z.string().min(8).optional(),
  WHATSAPP_ACCESS_TOKEN: z.string().min(1).optional(),
  WHATSAPP_PHONE_NUMBER_ID: z
    .string()
    .regex(/^\d{1,32}$/, "must be the numeric phone number id from Meta")
    .optional(),
  WHATSAPP_GRAPH_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, "must look like v21.0")
    .default("v21.0"),
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
  // Scheduled data sources (issue 16.2): the largest answer and the deadline of one fetch.
  DATA_SOURCE_MAX_MB: z.coerce.number().int().min(1).max(1024).default(50),
  DATA_SOURCE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  // Tests only: data sources may fetch from 127.0.0.1/::1 over http (refused in production).
  DATA_SOURCES_TEST_ALLOW_LOCAL: booleanish.default(false),
  // Email opt-outs from mailto, feedback loops and ESP events (issue 13)
  INBOUND_SMTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  INBOUND_SMTP_HOST: z.string().min(1).optional(),
  INBOUND_SMTP_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(50 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  INBOUND_SMTP_TLS_CERT: z.string().min(1).optional(),
  INBOUND_SMTP_TLS_KEY: z.string().min(1).optional(),
  INBOUND_SMTP_MAX_CONNECTIONS_PER_IP: z.coerce.number().int().min(1).max(1000).default(5),
  INBOUND_SMTP_MESSAGES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),
  INBOUND_FBL_ADDRESS: z.email().optional(),
  SES_SNS_TOPIC_ARNS: z
    .string()
    .regex(
      /^\s*arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\s*,\s*arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256})*\s*$/,
      "must be a comma-separated list of SNS topic ARNs (arn:aws:sns:region:account:name)",
    )
    .optional(),
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(40).optional(),
  SENDGRID_INBOUND_PUBLIC_KEY: z.string().min(40).optional(),
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(8).optional(),
  POSTMARK_WEBHOOK_USERNAME: z
    .string()
    .min(1)
    .regex(/^[^:]+$/, "must not contain ':'")
    .optional(),
  POSTMARK_WEBHOOK_PASSWORD: z.string().min(16, "must be at least 16 characters").optional(),
  RESEND_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, "must be the whsec_… signing secret of the endpoint")
    .optional(),
  ESP_GROUP_TOPICS: z
    .string()
    .regex(
      /^\s*[a-z]+:[^=,]+=[a-z0-9_-]+(\s*,\s*[a-z]+:[^=,]+=[a-z0-9_-]+)*\s*$/,
      'must look like "sendgrid:12345=newsletter,postmark:broadcasts=promotions"',
    )
    .optional(),
  COMPLAINT_ALERT_THRESHOLD_PERCENT: z.coerce.number().min(0.001).max(100).default(0.3),
  // Database faults (issue 11): how long a request waits for a PostgreSQL connection before 503.
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  // PGlite in a worker thread, off the thread that answers requests (issue 14); 0 for in-thread.
  PGLITE_WORKER: booleanish.default(true),
});

export type Env = Readonly<
  Omit<z.infer<typeof EnvSchema>, "HOST"> & {
    /** The address the server listens on (HOST, else see listenHost). */
    HOST: string;
    isProduction: boolean;
    dataDir: string;
    publicUrl: string;
    /** MAIL_FROM, or no-reply@ PUBLIC_URL's host (see mailSender). */
    mailFrom: string;
  }
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
  const isProduction = e.NODE_ENV === "production";
  if (isProduction) checkProductionPublicUrl(e);
  if (e.NODE_ENV === "production" && e.DATA_SOURCES_TEST_ALLOW_LOCAL) {
    throw new ConfigError(
      "Invalid configuration:\n  DATA_SOURCES_TEST_ALLOW_LOCAL: for tests only; it cannot be set in production",
    );
  }
  const publicUrl = e.PUBLIC_URL ?? `http://localhost:${e.PORT}`;
  return Object.freeze({
    ...e,
    HOST: e.HOST ?? (isProduction ? "0.0.0.0" : "127.0.0.1"),
    isProduction,
    dataDir: path.resolve(e.HEED_DATA_DIR),
    publicUrl,
    mailFrom: mailSender(e, publicUrl),
  });
}

/**
 * Production never guesses its public address (every link Heed mails is built on it), and
 * refuses a plain-http one: RFC 8058 requires HTTPS one-click unsubscribe URIs, and a token sent
 * in clear text can be read and used on the way. ALLOW_INSECURE_PUBLIC_URL=1 allows http:// for
 * local trials of a production build.
 */
function checkProductionPublicUrl(e: z.infer<typeof EnvSchema>): void {
  if (!e.PUBLIC_URL) {
    throw new ConfigError(
      "Invalid configuration:\n  PUBLIC_URL: required in production: the https:// address people reach Heed at (every link Heed sends is built on it), e.g. PUBLIC_URL=https://prefs.acme.example",
    );
  }
  if (e.PUBLIC_URL.startsWith("http://") && !e.ALLOW_INSECURE_PUBLIC_URL) {
    throw new ConfigError(
      `Invalid configuration:\n  PUBLIC_URL: must be an https:// URL in production (RFC 8058 one-click unsubscribe links must use HTTPS; links sent over http can be read and used on the way), got ${e.PUBLIC_URL}. For a local trial of a production build only, set ALLOW_INSECURE_PUBLIC_URL=1.`,
    );
  }
}

/**
 * The sender of Heed's email: MAIL_FROM, else no-reply at PUBLIC_URL's host when that is a domain
 * name. An IP address or a one-label name (localhost) cannot be a mail domain (no-reply@127.0.0.1
 * is refused or filtered by receiving servers): production refuses to start with such a
 * PUBLIC_URL and no MAIL_FROM, and development uses no-reply@localhost.
 */
function mailSender(e: z.infer<typeof EnvSchema>, publicUrl: string): string {
  if (e.MAIL_FROM) return e.MAIL_FROM;
  const host = new URL(publicUrl).hostname.replace(/\.$/, "");
  const ip = net.isIP(host.replace(/^\[|\]$/g, "")) !== 0;
  if (!ip && host.includes(".")) return `no-reply@${host}`;
  if (e.NODE_ENV === "production" && e.PUBLIC_URL) {
    throw new ConfigError(
      `Invalid configuration:\n  MAIL_FROM: required when PUBLIC_URL's host (${host}) is ${
        ip ? "an IP address" : "not a domain name"
      }: Heed cannot send email as no-reply@${host}. Set MAIL_FROM to the sender address, e.g. MAIL_FROM="Acme <no-reply@acme.example>".`,
    );
  }
  return "no-reply@localhost";
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
