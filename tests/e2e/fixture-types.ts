import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";

export type FixtureContext = { db: Db; env: Env };
/** A file in tests/e2e/fixtures/ default-exports one of these; its result lands in fixtures.json under the file's name. */
export type FixtureModule = { default: (ctx: FixtureContext) => Promise<Record<string, unknown>> };
