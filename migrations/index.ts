import type { Migration } from "kysely/migration";
import * as m20261122T1000 from "./2026-11-22T1000_create_schema";

/**
 * Every migration, by name, in the order they apply. The server is one bundle, so migrations are
 * imported here rather than read from disk at run time; a test checks that every file in this
 * folder is listed.
 */
export const migrations: Record<string, Migration> = {
  "2026-11-22T1000_create_schema": m20261122T1000,
};
