import { describe, expect, it } from "vitest";
import {
  DatabaseHealth,
  DatabaseUnavailableError,
  databaseFault,
  isDatabaseUnavailable,
  outageLog,
} from "~/db/faults.server";

/** Errors shaped the way node-postgres, pg-pool, Node's net module, Kysely and PGlite throw them. */
function pgError(code: string, message = "error") {
  return Object.assign(new Error(message), { code, severity: "FATAL" });
}

describe("database faults", () => {
  it.each([
    [
      "a terminated backend (57P01)",
      pgError("57P01", "terminating connection due to administrator command"),
    ],
    ["a crashed server (57P02)", pgError("57P02")],
    ["a server starting up (57P03)", pgError("57P03", "the database system is starting up")],
    ["a connection exception (08006)", pgError("08006")],
    ["too many connections (53300)", pgError("53300")],
    [
      "a refused connection",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    ],
    ["a reset connection", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })],
    [
      "a refused connection to every address of a host",
      new AggregateError(
        [Object.assign(new Error("x"), { code: "ECONNREFUSED" })],
        "connect failed",
      ),
    ],
    ["a socket that closed", new Error("Connection terminated unexpectedly")],
    ["a full pool", new Error("timeout exceeded when trying to connect")],
    [
      "a client that already failed",
      new Error("Client has encountered a connection error and is not queryable"),
    ],
    ["an ended pool", new Error("Cannot use a pool after calling end on the pool")],
    ["a closed Kysely", new Error("driver has already been destroyed")],
    ["a closed PGlite", new Error("PGlite is closed")],
    ["a cause chain", new Error("query failed", { cause: pgError("57P01") })],
    ["Heed's own error", new DatabaseUnavailableError()],
  ])("%s is 'unavailable' (503, retry)", (_, error) => {
    const fault = databaseFault(error);
    expect(fault?.kind).toBe("unavailable");
    expect(isDatabaseUnavailable(error)).toBe(true);
    if (fault?.kind === "unavailable") {
      expect(fault.error).toBeInstanceOf(DatabaseUnavailableError);
      expect(fault.retryAfterSeconds).toBeGreaterThan(0);
    }
  });

  it.each([
    ["a NUL byte (22021)", "22021"],
    ["text that is not a number (22P02)", "22P02"],
    ["a number out of range (22003)", "22003"],
    ["a value too long (22001)", "22001"],
  ])("%s is 'invalid_input' (400)", (_, code) => {
    expect(databaseFault(pgError(code))).toMatchObject({ kind: "invalid_input", sqlState: code });
    expect(isDatabaseUnavailable(pgError(code))).toBe(false);
  });

  it.each([
    ["a unique violation", pgError("23505")],
    ["a deadlock", pgError("40P01")],
    ["a syntax error", pgError("42601")],
    ["any other error", new Error("boom")],
    ["not an error", "boom"],
    ["nothing", undefined],
  ])("%s is not a database fault", (_, error) => {
    expect(databaseFault(error)).toBeNull();
  });
});

describe("outage logs", () => {
  function recorder() {
    const lines: string[] = [];
    const log = (level: string) => (obj: object, msg: string) =>
      lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
    return { lines, logger: { info: log("info"), warn: log("warn"), error: log("error") } };
  }

  it("a streak of failures is logged once, and its end once with the count", () => {
    const { lines, logger } = recorder();
    const log = outageLog(logger, { task: "outbox" });
    for (let i = 0; i < 50; i++) log.failed(new Error("down"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn .*"task":"outbox"/);
    log.recovered();
    log.recovered();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^info .*"failures":50/);
  });

  it("the database's health changes state once per outage", () => {
    const health = new DatabaseHealth();
    const changes: boolean[] = [];
    health.onChange((c) => changes.push(c.available));
    health.succeeded();
    health.failed(pgError("23505")); // a constraint: the database answered
    expect(health.available).toBe(true);
    for (let i = 0; i < 10; i++) health.failed(pgError("57P01"));
    expect(health.available).toBe(false);
    health.succeeded();
    health.succeeded();
    expect(changes).toEqual([false, true]);
  });
});
