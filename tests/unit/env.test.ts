import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "~/env.server";
import { parseSigningKeys, resolveSecrets } from "~/secrets.server";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "heed-env-"));

describe("configuration", () => {
  it("names the bad variable", () => {
    expect(() => parseEnv({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => parseEnv({ DATABASE_URL: "mysql://x" })).toThrow(
      /DATABASE_URL: must be a postgres/,
    );
    expect(() => parseEnv({ DEFAULT_PHONE_REGION: "poland" })).toThrow(/DEFAULT_PHONE_REGION/);
  });

  it("refuses the data sources' test-only allowance in production", () => {
    expect(() =>
      parseEnv({
        NODE_ENV: "production",
        PUBLIC_URL: "https://prefs.acme.example",
        DATA_SOURCES_TEST_ALLOW_LOCAL: "1",
      }),
    ).toThrow(/DATA_SOURCES_TEST_ALLOW_LOCAL: for tests only/);
    expect(parseEnv({ DATA_SOURCES_TEST_ALLOW_LOCAL: "1" }).DATA_SOURCES_TEST_ALLOW_LOCAL).toBe(
      true,
    );
    expect(parseEnv({}).DATA_SOURCE_MAX_MB).toBe(50);
  });

  it("treats empty values as unset and applies defaults", () => {
    const env = parseEnv({ PORT: "", NODE_ENV: "development" });
    expect(env.PORT).toBe(3000);
    expect(env.publicUrl).toBe("http://localhost:3000");
    expect(env.isProduction).toBe(false);
  });

  it("sends email as no-reply at PUBLIC_URL's domain, never at an IP address", () => {
    expect(parseEnv({ PUBLIC_URL: "https://prefs.acme.example" }).mailFrom).toBe(
      "no-reply@prefs.acme.example",
    );
    expect(parseEnv({ MAIL_FROM: "Acme <news@acme.example>" }).mailFrom).toBe(
      "Acme <news@acme.example>",
    );
    // Development: a sane sender whatever the URL.
    for (const url of ["http://127.0.0.1:3000", "http://192.168.1.5", "http://[::1]:3000"]) {
      expect(parseEnv({ NODE_ENV: "development", PUBLIC_URL: url }).mailFrom).toBe(
        "no-reply@localhost",
      );
    }
    expect(parseEnv({ NODE_ENV: "development" }).mailFrom).toBe("no-reply@localhost");
  });

  it.each(["https://203.0.113.5", "https://[2001:db8::5]:8443", "https://intranet"])(
    "refuses to start in production with PUBLIC_URL %s and no MAIL_FROM, naming the variable to set",
    (url) => {
      const start = () => parseEnv({ NODE_ENV: "production", PUBLIC_URL: url });
      expect(start).toThrow(ConfigError);
      expect(start).toThrow(/MAIL_FROM: required when PUBLIC_URL's host .* Set MAIL_FROM/);
      expect(
        parseEnv({ NODE_ENV: "production", PUBLIC_URL: url, MAIL_FROM: "no-reply@acme.example" })
          .mailFrom,
      ).toBe("no-reply@acme.example");
    },
  );

  it("refuses to start in production without secrets, naming them", () => {
    const env = parseEnv({
      NODE_ENV: "production",
      PUBLIC_URL: "https://heed.example",
      HEED_DATA_DIR: tmp(),
    });
    expect(() => resolveSecrets(env)).toThrow(ConfigError);
    expect(() => resolveSecrets(env)).toThrow(/SIGNING_KEYS, SESSION_SECRET, ADDRESS_HASH_KEY/);
    const partial = parseEnv({
      NODE_ENV: "production",
      PUBLIC_URL: "https://heed.example",
      SIGNING_KEYS: "k1:0123456789abcdef0123456789abcdef",
      SESSION_SECRET: "s".repeat(40),
    });
    expect(() => resolveSecrets(partial)).toThrow(/ADDRESS_HASH_KEY/);
  });

  it("never writes generated secrets in production", () => {
    const dir = tmp();
    const env = parseEnv({
      NODE_ENV: "production",
      PUBLIC_URL: "https://heed.example",
      HEED_DATA_DIR: dir,
      SIGNING_KEYS: "k1:0123456789abcdef0123456789abcdef",
      SESSION_SECRET: "s".repeat(40),
      ADDRESS_HASH_KEY: "h".repeat(40),
    });
    const secrets = resolveSecrets(env);
    expect(secrets.signingKeys.map((k) => k.kid)).toEqual(["k1"]);
    expect(fs.existsSync(path.join(dir, "secrets.json"))).toBe(false);
  });

  it("generates development secrets once and keeps them in the data directory", () => {
    const dir = tmp();
    const env = parseEnv({ NODE_ENV: "development", HEED_DATA_DIR: dir });
    const first = resolveSecrets(env);
    const second = resolveSecrets(env);
    expect(first.generatedFile).toBe(path.join(dir, "secrets.json"));
    expect(second.sessionSecret).toBe(first.sessionSecret);
    expect(second.signingKeys[0]!.kid).toBe(first.signingKeys[0]!.kid);
    expect((fs.statSync(first.generatedFile!).mode & 0o777).toString(8)).toBe("600");
  });

  it("listens on 127.0.0.1 in development unless HOST is set; 0.0.0.0 in production", () => {
    expect(parseEnv({ NODE_ENV: "development" }).HOST).toBe("127.0.0.1");
    expect(parseEnv({}).HOST).toBe("127.0.0.1"); // NODE_ENV unset is development
    expect(parseEnv({ NODE_ENV: "development", HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
    expect(parseEnv({ NODE_ENV: "production", PUBLIC_URL: "https://heed.example" }).HOST).toBe(
      "0.0.0.0",
    );
  });

  it("never guesses PUBLIC_URL in production, and refuses http:// unless told to allow it", () => {
    expect(() => parseEnv({ NODE_ENV: "production" })).toThrow(ConfigError);
    expect(() => parseEnv({ NODE_ENV: "production" })).toThrow(
      /PUBLIC_URL: required in production/,
    );
    const insecure = { NODE_ENV: "production", PUBLIC_URL: "http://prefs.acme.example" };
    expect(() => parseEnv(insecure)).toThrow(/PUBLIC_URL: must be an https:\/\/ URL.*RFC 8058/);
    expect(() => parseEnv(insecure)).toThrow(/ALLOW_INSECURE_PUBLIC_URL=1/);
    expect(() => parseEnv({ ...insecure, ALLOW_INSECURE_PUBLIC_URL: "0" })).toThrow(ConfigError);
    expect(parseEnv({ ...insecure, ALLOW_INSECURE_PUBLIC_URL: "1" }).publicUrl).toBe(
      "http://prefs.acme.example",
    );
    expect(
      parseEnv({ NODE_ENV: "production", PUBLIC_URL: "https://prefs.acme.example/" }).publicUrl,
    ).toBe("https://prefs.acme.example");
    // Development keeps its convenient default.
    expect(parseEnv({ NODE_ENV: "development", PORT: "3001" }).publicUrl).toBe(
      "http://localhost:3001",
    );
  });

  it("validates signing keys: kid:secret, long secrets, unique kids", () => {
    expect(() => parseSigningKeys("nokid")).toThrow(/kid:secret/);
    expect(() => parseSigningKeys("k1:short")).toThrow(/at least 32/);
    expect(() =>
      parseSigningKeys("k1:0123456789abcdef0123456789abcdef,k1:0123456789abcdef0123456789abcdef"),
    ).toThrow(/unique/);
  });
});
