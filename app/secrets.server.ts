import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, getEnv, type Env } from "~/env.server";

/**
 * Secrets: token signing keys (several verify, the first signs), the session secret and the key
 * of the address hashes kept after erasure. In production they must come from the environment;
 * in development and tests they are generated once and kept in `${HEED_DATA_DIR}/secrets.json`.
 * There is never a built-in fallback value.
 */
export type SigningKey = { kid: string; secret: Uint8Array };
export type Secrets = Readonly<{
  signingKeys: readonly SigningKey[];
  sessionSecret: string;
  addressHashKey: string;
  generatedFile?: string;
}>;

const KID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseSigningKeys(value: string): SigningKey[] {
  const keys = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const i = entry.indexOf(":");
      const kid = i > 0 ? entry.slice(0, i) : "";
      const secret = i > 0 ? entry.slice(i + 1) : "";
      if (!KID_RE.test(kid)) {
        throw new ConfigError(
          `Invalid configuration:\n  SIGNING_KEYS: each entry must be "kid:secret" (kid of letters, digits, . _ -)`,
        );
      }
      if (secret.length < 32) {
        throw new ConfigError(
          `Invalid configuration:\n  SIGNING_KEYS: the secret of key "${kid}" must be at least 32 characters`,
        );
      }
      return { kid, secret: new TextEncoder().encode(secret) };
    });
  if (keys.length === 0) {
    throw new ConfigError(`Invalid configuration:\n  SIGNING_KEYS: no key given`);
  }
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) {
    throw new ConfigError(`Invalid configuration:\n  SIGNING_KEYS: key ids must be unique`);
  }
  return keys;
}

type StoredSecrets = { signingKeys: string; sessionSecret: string; addressHashKey: string };

function randomSecret(): string {
  return crypto.randomBytes(32).toString("base64url");
}

function loadOrCreateDevSecrets(dataDir: string): { stored: StoredSecrets; file: string } {
  const file = path.join(dataDir, "secrets.json");
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    const stored = JSON.parse(fs.readFileSync(file, "utf8")) as StoredSecrets;
    if (stored.signingKeys && stored.sessionSecret && stored.addressHashKey)
      return { stored, file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`Cannot read ${file}: ${(e as Error).message}`);
    }
  }
  const stored: StoredSecrets = {
    signingKeys: `dev-${new Date().toISOString().slice(0, 10)}:${randomSecret()}`,
    sessionSecret: randomSecret(),
    addressHashKey: randomSecret(),
  };
  // wx: two processes starting at once must not overwrite each other's keys.
  try {
    fs.writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateDevSecrets(dataDir);
    throw e;
  }
  return { stored, file };
}

export function resolveSecrets(env: Env): Secrets {
  if (env.isProduction) {
    const missing = (["SIGNING_KEYS", "SESSION_SECRET", "ADDRESS_HASH_KEY"] as const).filter(
      (k) => !env[k],
    );
    if (missing.length > 0) {
      throw new ConfigError(
        `Refusing to start in production without ${missing.join(", ")}. ` +
          `Generate each with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))" ` +
          `(SIGNING_KEYS takes "kid:secret[,kid:secret...]"; the first key signs).`,
      );
    }
    return Object.freeze({
      signingKeys: parseSigningKeys(env.SIGNING_KEYS!),
      sessionSecret: env.SESSION_SECRET!,
      addressHashKey: env.ADDRESS_HASH_KEY!,
    });
  }
  const needFile = !env.SIGNING_KEYS || !env.SESSION_SECRET || !env.ADDRESS_HASH_KEY;
  const dev = needFile ? loadOrCreateDevSecrets(env.dataDir) : undefined;
  return Object.freeze({
    signingKeys: parseSigningKeys(env.SIGNING_KEYS ?? dev!.stored.signingKeys),
    sessionSecret: env.SESSION_SECRET ?? dev!.stored.sessionSecret,
    addressHashKey: env.ADDRESS_HASH_KEY ?? dev!.stored.addressHashKey,
    generatedFile: dev?.file,
  });
}

let cached: Secrets | undefined;

export function getSecrets(): Secrets {
  cached ??= resolveSecrets(getEnv());
  return cached;
}

export function resetSecretsForTests(): void {
  cached = undefined;
}
