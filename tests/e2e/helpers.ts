import fs from "node:fs";
import { E2E_FIXTURES } from "./env";

/** What tests/e2e/seed.ts wrote for the feature whose fixture file is `name`.ts. */
export function fixtures<T = Record<string, unknown>>(name: string): T {
  const all = JSON.parse(fs.readFileSync(E2E_FIXTURES, "utf8")) as Record<string, unknown>;
  if (!(name in all))
    throw new Error(`No e2e fixtures named "${name}" (tests/e2e/fixtures/${name}.ts)`);
  return all[name] as T;
}
