import { sql } from "kysely";
import type { Db } from "../../app/db/db.server";

/**
 * Waits for a condition instead of sleeping for a guessed time: calls `probe` until it returns a
 * value (anything but null, undefined or false) and returns that value. `timeoutMs` is only a
 * liveness bound for a test that would otherwise hang; it is generous on purpose.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10)); // give the other side a turn
  }
}

/**
 * Waits until the database's clock has passed `moment` (a lease ran out, a time boundary). A Date
 * read from the database lost its microseconds, so this waits until one millisecond after it.
 */
export async function waitForDatabaseClock(db: Db, moment: Date): Promise<void> {
  const after = new Date(moment.getTime() + 1);
  await waitFor(`the database clock to pass ${moment.toISOString()}`, async () => {
    const { rows } = await sql<{ passed: boolean }>`
      select clock_timestamp() >= ${after} as passed`.execute(db);
    return rows[0]!.passed;
  });
}
