/**
 * The server's entry point. remix.config.js `server` compiles it together with the app into
 * build/index.js, so this file and the routes share one module graph (one database handle).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type Server, type ServerResponse } from "node:http";
import * as build from "@remix-run/dev/server-build";
import { broadcastDevReady, type ServerBuild } from "@remix-run/node";
import {
  ensureDemoData,
  ensureFirstAdmin,
  openAndMigrate,
  printStartBanner,
} from "~/boot/boot.server";
import { setDatabase } from "~/db/db.server";
import { ConfigError, getEnv } from "~/env.server";
import { getSecrets } from "~/secrets.server";
import { createRequestListener } from "~/server/http.server";
import { createLogger } from "~/server/logger.server";
import { isDatabaseUnavailable } from "~/db/faults.server";
import type { Logger } from "pino";
import { startBackgroundWork } from "~/server/background.server";
import { inboundSmtpOptions, startInboundSmtp } from "~/email/smtp-listener.server";

async function main(): Promise<void> {
  const env = getEnv();
  const logger = createLogger(env.LOG_LEVEL);
  getSecrets(); // fail fast: production refuses to start without its secrets
  listenForStrayDatabaseFaults(logger);
  const handle = await openAndMigrate(env, { server: true });
  setDatabase(handle);
  // One line when the database becomes unavailable, one when it answers again.
  handle.health.onChange((change) => {
    if (change.available) {
      logger.info(
        { downMs: change.downMs, failures: change.failures },
        "database available again; requests and background work resume",
      );
    } else {
      logger.warn(
        { err: change.error },
        "database unavailable: requests that need it answer 503 with Retry-After until it is back",
      );
    }
  });
  const admin = await ensureFirstAdmin(handle.db, env);
  const demoEnabled = env.DEMO_DATA ?? env.NODE_ENV === "development";
  const demo = demoEnabled && !env.isProduction ? await ensureDemoData(handle.db, env) : undefined;

  const listener = createRequestListener({
    build: build as unknown as ServerBuild,
    env,
    logger,
    publicDir: path.resolve("public"),
    assetsDir: path.join(path.dirname(fileURLToPath(import.meta.url)), "public", "build"),
  });
  const stopBackground = startBackgroundWork({ db: handle.db, dbKind: handle.kind, env, logger });
  // The optional SMTP listener for mailto unsubscribes and feedback reports (INBOUND_SMTP_PORT).
  const smtpOptions = inboundSmtpOptions(env);
  const smtp = smtpOptions ? await startInboundSmtp(handle.db, smtpOptions, logger) : null;

  const server: Server = createServer(listener);
  server.listen(env.PORT, env.HOST, () => {
    printStartBanner(logger, env, { admin, demo });
    if (process.env.REMIX_DEV_ORIGIN) void broadcastDevReady(build as unknown as ServerBuild);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout

  let shuttingDown = false;
  // Requests that arrive on a kept-alive connection while stopping are served, then the
  // connection closes (instead of idling until keepAliveTimeout).
  server.on("request", (_req, res: ServerResponse) => {
    if (shuttingDown && !res.headersSent) res.setHeader("Connection", "close");
  });
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const timeoutMs = env.SHUTDOWN_TIMEOUT_MS;
    logger.info({ signal, timeoutMs }, "shutting down: finishing in-flight requests");
    // Whatever still runs at the deadline, the process ends then.
    const hardStop = setTimeout(() => {
      logger.warn("shutdown timeout: exiting with work still running");
      process.exit(1);
    }, timeoutMs);
    hardStop.unref();
    // Time kept at the end for closing the database after connections are forced shut.
    const reserveMs = Math.min(1_000, Math.floor(timeoutMs / 4));
    const drainedBy = Date.now() + timeoutMs - reserveMs;
    const remaining = (until: number) => Math.max(0, until - Date.now());
    const within = <T>(p: Promise<T>, ms: number) =>
      Promise.race([p.then(() => true), sleep(ms).then(() => false)]);

    // 1. Stop accepting; close idle keep-alive connections now and whenever one becomes idle
    //    (a connection idles for keepAliveTimeout otherwise, well past any shutdown timeout).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    idleSweep.unref();
    // 2. Background work stops after its current step, in parallel with the requests, and the
    //    inbound SMTP listener stops taking messages.
    const background = Promise.all([stopBackground(), smtp?.close()]);
    const [drained, stopped] = await Promise.all([
      within(closed, remaining(drainedBy)),
      within(background, remaining(drainedBy)),
    ]);
    clearInterval(idleSweep);
    if (!drained) {
      logger.warn("shutdown timeout: closing connections still in use");
      server.closeAllConnections();
    }
    if (!stopped) logger.warn("shutdown timeout: background work did not stop in time");
    // 3. The database last (a pool waits for its queries; PGlite flushes to disk).
    const dbClosed = await within(
      handle.close().catch((err: unknown) => logger.warn({ err }, "closing the database failed")),
      remaining(drainedBy + reserveMs),
    );
    if (!dbClosed) logger.warn("shutdown timeout: the database did not close in time");
    setDatabase(undefined);
    logger.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * A promise nobody awaited that fails because the database went away must not end the process
 * (Node's default for unhandled rejections); it is logged. Any other unhandled rejection is a
 * bug and still ends the process, as before.
 */
function listenForStrayDatabaseFaults(logger: Logger) {
  process.on("unhandledRejection", (reason) => {
    if (isDatabaseUnavailable(reason)) {
      logger.warn({ err: reason }, "unhandled database fault (the database is unavailable)");
      return;
    }
    throw reason;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    (error instanceof Error && error.name === "DataDirLockedError")
  ) {
    process.stderr.write(`\n${error.message}\n\n`);
  } else {
    process.stderr.write(
      `Heed failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
  }
  process.exit(1);
});
