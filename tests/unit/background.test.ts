import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Db } from "~/db/db.server";
import { DatabaseUnavailableError } from "~/db/faults.server";
import { isBackgroundLane, trackLanes } from "~/db/priority.server";
import { getEnv } from "~/env.server";
import { startBackgroundWork, type BackgroundContext } from "~/server/background.server";

/** The background scheduler through an outage: backoff, one log line per outage, no crash. */

function recorder() {
  const lines: { level: string; msg: string }[] = [];
  const log = (level: string) => (_obj: object, msg: string) => lines.push({ level, msg });
  const logger = { info: log("info"), warn: log("warn"), error: log("error") };
  return { lines, logger };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("background tasks during an outage", () => {
  it("back off, log the outage once and the recovery once, and run again", async () => {
    const { lines, logger } = recorder();
    let runs = 0;
    let down = true;
    let inLane = true;
    trackLanes(); // as PGlite's worker driver does (the only reader of the lane)
    const stop = startBackgroundWork(
      { db: {} as Db, dbKind: "postgres", env: getEnv(), logger } as unknown as BackgroundContext,
      [
        {
          name: "outbox",
          everyMs: 100,
          async run() {
            runs++;
            inLane &&= isBackgroundLane();
            if (down) throw new DatabaseUnavailableError();
          },
        },
      ],
      { maxBackoffMs: 1_000 },
    );
    await vi.advanceTimersByTimeAsync(10_000);
    // Without backoff: 100 attempts in 10 s. With it: every second at most, once it has grown.
    expect(runs).toBeGreaterThan(5);
    expect(runs).toBeLessThan(25);
    expect(lines.filter((l) => l.level === "warn")).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(/database unavailable/);

    down = false;
    const before = runs;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lines.filter((l) => l.level === "info").map((l) => l.msg)).toEqual([
      "background task runs again",
    ]);
    // Back to its own period.
    expect(runs - before).toBeGreaterThan(10);
    expect(inLane).toBe(true);
    await stop();
  });

  it("log a task's own bug as an error, once per streak", async () => {
    const { lines, logger } = recorder();
    const stop = startBackgroundWork(
      { db: {} as Db, dbKind: "postgres", env: getEnv(), logger } as unknown as BackgroundContext,
      [
        {
          name: "reports",
          everyMs: 100,
          async run() {
            throw new Error("a bug");
          },
        },
      ],
      { maxBackoffMs: 500 },
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(lines).toEqual([
      { level: "error", msg: "background task failed; retrying with backoff" },
    ]);
    await stop();
  });
});
