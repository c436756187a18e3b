import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { openPglite, openPostgres, type DatabaseHandle } from "~/db/db.server";
import { migrateToLatest } from "~/db/migrate.server";
import type { Database } from "~/db/schema";
import type { EmailTables } from "~/email/schema";
import type { ImportTables } from "~/imports/schema";
import type { ReportTables } from "~/reports/schema";
import type { SourceTables } from "~/sources/schema";
import type { WebhookTables } from "~/webhooks/schema";
import { migrations } from "../../migrations";
import { createTestDatabase } from "../setup/db";

/**
 * Every table the migrations create, no more and no fewer (checked both ways below), and at
 * compile time exactly the tables of the Kysely types: a table added to a migration or to a
 * schema type without the other fails here.
 */
const EXPECTED_TABLES = [
  "admin_sessions",
  "admin_users",
  "api_keys",
  "audit_log",
  "branding_logos",
  "campaigns",
  "channel_consent",
  "consent_ledger",
  "contacts",
  "data_source_runs",
  "data_sources",
  "double_opt_in_requests",
  "frequency_consent",
  "frequency_options",
  "import_errors",
  "import_jobs",
  "inbound_messages",
  "ledger_checkpoints",
  "mailto_codes",
  "outbox",
  "rate_limits",
  "report_alerts",
  "report_campaign_stats",
  "report_daily",
  "report_rollup_state",
  "send_log",
  "settings",
  "short_links",
  "soft_bounce_streaks",
  "topic_consent",
  "topics",
  "undeliverable_addresses",
  "undeliverable_events",
  "unsubscribe_reasons",
  "webhook_deliveries",
  "webhook_endpoints",
] as const satisfies readonly TableName[];

type TableName = keyof (Database &
  EmailTables &
  ImportTables &
  ReportTables &
  SourceTables &
  WebhookTables);
type Unlisted = Exclude<TableName, (typeof EXPECTED_TABLES)[number]>;
const everyTypedTableIsListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTypedTableIsListed; // a compile-time check only

/** The migrator's own bookkeeping tables (named in app/db/migrate.server.ts). */
const MIGRATOR_TABLES = ["heed_migrations", "heed_migrations_lock"];

async function emptyDatabase(): Promise<DatabaseHandle> {
  if ((process.env.HEED_TEST_DB ?? "pglite") === "pglite")
    return openPglite("memory://", { lock: false });
  // An empty database on the server: a fresh one from template0, dropped on close.
  const seeded = await createTestDatabase();
  await seeded.close();
  const url = new URL(seeded.url!);
  const admin = await openPostgres(process.env.TEST_DATABASE_URL!, 1);
  await sql`create database ${sql.id(seeded.name)} template template0`.execute(admin.db);
  await admin.close();
  const handle = await openPostgres(url.toString(), 2);
  return {
    ...handle,
    async close() {
      await handle.close();
      const a = await openPostgres(process.env.TEST_DATABASE_URL!, 1);
      await sql`drop database if exists ${sql.id(seeded.name)} with (force)`.execute(a.db);
      await a.close();
    },
  };
}

describe("migrations", () => {
  it("apply from an empty database, create every table, and are idempotent", async () => {
    const handle = await emptyDatabase();
    try {
      const first = await migrateToLatest(handle.db);
      expect(first.results?.every((r) => r.status === "Success")).toBe(true);
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public' order by 1`.execute(
        handle.db,
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(
        [...EXPECTED_TABLES, ...MIGRATOR_TABLES].sort(),
      );
      const second = await migrateToLatest(handle.db);
      expect(second.results).toEqual([]);
      // The default unsubscribe reasons (docs/recipient-pages.md) are in place.
      const reasons = await handle.db
        .selectFrom("unsubscribe_reasons")
        .select("code")
        .orderBy("position")
        .execute();
      expect(reasons.map((r) => r.code)).toEqual([
        "prefer_not_to_say",
        "no_longer_interested",
        "too_frequent",
        "not_relevant",
        "never_signed_up",
        "other",
      ]);
    } finally {
      await handle.close();
    }
  });

  it("lists every migration file in migrations/index.ts, and none imports app code", () => {
    const dir = path.resolve("migrations");
    const files = fs.readdirSync(dir).filter((f) => f !== "index.ts" && f.endsWith(".ts"));
    expect(files.map((f) => f.replace(/\.ts$/, "")).sort()).toEqual(Object.keys(migrations).sort());
    expect(Object.keys(migrations)).toEqual([...Object.keys(migrations)].sort());
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      expect(text, f).not.toMatch(/from ["'](~\/|\.\.\/app)/);
      expect(f, "timestamped name").toMatch(/^\d{4}-\d{2}-\d{2}T\d{4}_[a-z0-9_]+\.ts$/);
    }
  });
});

describe.runIf((process.env.HEED_TEST_DB ?? "pglite") === "pglite")("PGlite data directory", () => {
  it("a second process cannot open a directory in use, with a clear message; a stale lock is taken over", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-lock-"));
    const lockFile = path.join(dir, "heed.lock");
    // Another live process (pid 1 always exists) holds the lock.
    fs.writeFileSync(lockFile, "1");
    await expect(openPglite(dir)).rejects.toThrow(/in use by another Heed process \(pid 1\)/);
    // A lock left by a process that is gone is stale.
    fs.writeFileSync(lockFile, "999999");
    const handle = await openPglite(dir);
    expect(fs.readFileSync(lockFile, "utf8")).toBe(String(process.pid));
    await handle.close();
    expect(fs.existsSync(lockFile)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
