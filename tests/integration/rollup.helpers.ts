import { expect } from "vitest";
import type { RollupResult } from "~/reports/rollup.server";

/**
 * Asserts that a rollup ran incrementally and recounted the days and campaigns a test wrote to.
 *
 * On PGlite the test is the database's only client, so the counts are exact. On PostgreSQL the
 * rollup's horizon is the oldest transaction still running in the whole cluster (transaction ids
 * are cluster-wide): another database's open transaction — a parallel test file, a benchmark —
 * keeps it back, and the rollup then recounts rows it had counted before. That is correct (the
 * figures stay exact; each test checks them) but makes the counts "at least", never "all".
 * Reproduced by holding `begin; select txid_current();` open in another database.
 */
export function expectIncrementalRollup(
  result: RollupResult,
  expected: { days?: number; campaigns?: number; rolledThrough?: string },
) {
  const exactCounts = (process.env.HEED_TEST_DB ?? "pglite") === "pglite";
  expect(result.ran).toBe(true);
  if (expected.rolledThrough !== undefined)
    expect(result.rolledThrough).toBe(expected.rolledThrough);
  if (expected.days !== undefined) {
    expect(result.days).not.toBe(-1); // -1: every day recounted
    if (exactCounts) expect(result.days).toBe(expected.days);
    else expect(result.days).toBeGreaterThanOrEqual(expected.days);
  }
  if (expected.campaigns !== undefined) {
    expect(result.campaigns).not.toBe("all");
    if (exactCounts) expect(result.campaigns).toBe(expected.campaigns);
    else expect(result.campaigns).toBeGreaterThanOrEqual(expected.campaigns);
  }
}
