import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { hashPassword } from "~/admin/password.server";
import { openDatabase, type DatabaseHandle, type Db } from "~/db/db.server";
import { migrateToLatest } from "~/db/migrate.server";
import { ConfigError, type Env } from "~/env.server";
import { signLinkToken } from "~/links/tokens.server";
import type { Logger } from "pino";

/**
 * Opens the database and applies pending migrations (on start and in `npm run db:migrate`). The
 * server runs PGlite in a worker thread (`server: true`, unless PGLITE_WORKER=0); CLIs keep it
 * in their own thread.
 */
export async function openAndMigrate(
  env: Env,
  options: { server?: boolean } = {},
): Promise<DatabaseHandle> {
  const handle = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.dataDir,
    poolMax: env.DATABASE_POOL_MAX,
    postgres: { connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS },
    pgliteWorker: Boolean(options.server) && env.PGLITE_WORKER,
  });
  try {
    await migrateToLatest(handle.db);
  } catch (e) {
    await handle.close();
    throw e;
  }
  return handle;
}

export type FirstAdmin = { email: string; password?: string; created: boolean };

const DEV_ADMIN_EMAIL = "admin@heed.local";

/**
 * The first admin. In production it must be given (FIRST_ADMIN_EMAIL + FIRST_ADMIN_PASSWORD) or
 * created beforehand with `npm run admin:create`. In development a random password is generated
 * and kept beside the dev secrets, so each start can print the login again.
 */
export async function ensureFirstAdmin(db: Db, env: Env): Promise<FirstAdmin | null> {
  const existing = await db
    .selectFrom("admin_users")
    .select(["email"])
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .orderBy("created_at")
    .executeTakeFirst();
  const devFile = path.join(env.dataDir, "dev-admin.json");
  if (existing) {
    if (env.isProduction) return { email: existing.email, created: false };
    try {
      const saved = JSON.parse(fs.readFileSync(devFile, "utf8")) as {
        email: string;
        password: string;
      };
      if (saved.email === existing.email) return { ...saved, created: false };
    } catch {
      /* no saved dev login */
    }
    return { email: existing.email, created: false };
  }
  let email = env.FIRST_ADMIN_EMAIL;
  let password = env.FIRST_ADMIN_PASSWORD;
  if (!email || !password) {
    if (env.isProduction) {
      throw new ConfigError(
        "Refusing to start in production without an admin user. Set FIRST_ADMIN_EMAIL and " +
          "FIRST_ADMIN_PASSWORD, or run `npm run admin:create -- --email you@example.com --role admin`.",
      );
    }
    email ??= DEV_ADMIN_EMAIL;
    password ??= crypto.randomBytes(12).toString("base64url");
    fs.mkdirSync(env.dataDir, { recursive: true });
    fs.writeFileSync(devFile, JSON.stringify({ email, password }), { mode: 0o600 });
  }
  const inserted = await db
    .insertInto("admin_users")
    .values({
      email: email.toLowerCase(),
      name: "First admin",
      password_hash: await hashPassword(password),
      role: "admin",
    })
    .onConflict((oc) => oc.column("email").doNothing())
    .returning("email")
    .executeTakeFirst();
  await db
    .insertInto("audit_log")
    .values({
      actor_type: "system",
      actor_label: "first start",
      action: "admin_user.create",
      target_type: "admin_user",
      target_id: email.toLowerCase(),
      details: JSON.stringify({ role: "admin" }),
    })
    .execute();
  return { email: email.toLowerCase(), password, created: inserted !== undefined };
}

export const DEMO_TOPICS = [
  {
    key: "newsletter",
    position: 10,
    default_opt_in: true,
    names: {
      en: "Newsletter",
      pl: "Newsletter",
      pt: "Boletim informativo",
      cs: "Zpravodaj",
      de: "Newsletter",
      es: "Boletín",
      fr: "Lettre d'information",
    },
    descriptions: {
      en: "Our monthly roundup of news and stories.",
      pl: "Comiesięczne podsumowanie nowości i historii.",
      pt: "O nosso resumo mensal de novidades e histórias.",
      cs: "Měsíční přehled novinek a příběhů.",
      de: "Unser monatlicher Überblick über Neuigkeiten und Geschichten.",
      es: "Nuestro resumen mensual de novedades e historias.",
      fr: "Notre sélection mensuelle d'actualités et d'histoires.",
    },
  },
  {
    key: "product-updates",
    position: 20,
    default_opt_in: true,
    names: {
      en: "Product updates",
      pl: "Nowości w produkcie",
      pt: "Novidades do produto",
      cs: "Novinky v produktu",
      de: "Produktneuigkeiten",
      es: "Novedades del producto",
      fr: "Nouveautés produit",
    },
    descriptions: {
      en: "New features and improvements, when they ship.",
      pl: "Nowe funkcje i usprawnienia, gdy tylko się pojawią.",
      pt: "Novas funcionalidades e melhorias, assim que saem.",
      cs: "Nové funkce a vylepšení, jakmile vyjdou.",
      de: "Neue Funktionen und Verbesserungen, sobald sie erscheinen.",
      es: "Nuevas funciones y mejoras en cuanto se publican.",
      fr: "Nouvelles fonctionnalités et améliorations, dès leur sortie.",
    },
  },
  {
    key: "promotions",
    position: 30,
    default_opt_in: false,
    names: {
      en: "Promotions",
      pl: "Promocje",
      pt: "Promoções",
      cs: "Akce a slevy",
      de: "Angebote",
      es: "Promociones",
      fr: "Promotions",
    },
    descriptions: {
      en: "Discounts and special offers.",
      pl: "Rabaty i oferty specjalne.",
      pt: "Descontos e ofertas especiais.",
      cs: "Slevy a speciální nabídky.",
      de: "Rabatte und Sonderangebote.",
      es: "Descuentos y ofertas especiales.",
      fr: "Réductions et offres spéciales.",
    },
  },
] as const;

export const DEMO_CONTACT = {
  external_id: "demo",
  email: "demo@example.com",
  phone: "+48601234567",
  locale: "en",
};

/** Demo topics and a demo contact, created once in development (never in production). */
export async function ensureDemoData(db: Db, env: Env): Promise<{ preferencesUrl: string }> {
  await db
    .insertInto("topics")
    .values(
      DEMO_TOPICS.map((t) => ({
        ...t,
        names: JSON.stringify(t.names),
        descriptions: JSON.stringify(t.descriptions),
        channels: sql<string[]>`array['email', 'sms', 'whatsapp']::text[]` as unknown as (
          "email" | "sms" | "whatsapp"
        )[],
      })),
    )
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  await db
    .insertInto("contacts")
    .values(DEMO_CONTACT)
    .onConflict((oc) => oc.column("external_id").doNothing())
    .execute();
  const path = await demoPreferencesPath(db);
  if (!path) throw new Error("The demo contact was not created.");
  return { preferencesUrl: `${env.publicUrl}${path}` };
}

/** The path of the demo contact's preference page (`/p/{token}`), or null when there is none. */
export async function demoPreferencesPath(db: Db): Promise<string | null> {
  const contact = await db
    .selectFrom("contacts")
    .select("id")
    .where("external_id", "=", DEMO_CONTACT.external_id)
    .executeTakeFirst();
  if (!contact) return null;
  const token = await signLinkToken({
    contactId: contact.id,
    channel: "email",
    purpose: "preferences",
  });
  return `/p/${token}`;
}

export function printStartBanner(
  log: Logger,
  env: Env,
  info: { admin: FirstAdmin | null; demo?: { preferencesUrl: string } },
): void {
  const database = env.DATABASE_URL ? "PostgreSQL" : `PGlite in ${env.dataDir}`;
  const bound = listenAddress(env);
  const lines = [`Heed is listening on ${bound}, public URL ${env.publicUrl} (${database})`];
  if (!env.isProduction && !isLoopbackHost(env.HOST)) {
    // Said loudly: the development mode shows live preference links at /dev/outbox.
    lines.push(
      `  WARNING: development mode on ${env.HOST}: other machines can reach this server. /dev/outbox (live preference links) asks them for an admin login; use HOST=127.0.0.1 unless you need this.`,
    );
  }
  if (!env.isProduction) {
    if (info.demo) lines.push(`  Demo preference page: ${info.demo.preferencesUrl}`);
    if (info.admin) {
      lines.push(
        `  Admin login: ${env.publicUrl}/admin/login  ${info.admin.email}` +
          (info.admin.password ? ` / ${info.admin.password}` : ""),
      );
    }
  }
  // The banner is for the person at the terminal; logs stay structured and secret-free.
  if (env.NODE_ENV !== "test") process.stdout.write(`\n${lines.join("\n")}\n\n`);
  log.info({ port: env.PORT, database: env.DATABASE_URL ? "postgres" : "pglite" }, "heed started");
}

/** Whether a HOST value only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** http://HOST:PORT as a person would type it (IPv6 in brackets). */
function listenAddress(env: Env): string {
  const host = env.HOST.includes(":") && !env.HOST.startsWith("[") ? `[${env.HOST}]` : env.HOST;
  return `http://${host}:${env.PORT}`;
}
