import { Migrator, type MigrationResultSet } from "kysely/migration";
import type { Kysely } from "kysely";
import { migrations } from "../../migrations";

/** Applies every pending migration in migrations/ (the same set on PGlite and PostgreSQL). */
// Takes any Kysely: migrations are typed against no schema (they create it).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "heed_migrations",
    migrationLockTableName: "heed_migrations_lock",
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error");
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`Migration ${failed?.migrationName ?? "(unknown)"} failed: ${cause}`, {
      cause: result.error,
    });
  }
  return result;
}
