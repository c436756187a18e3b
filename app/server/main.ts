/**
 * The server's entry point. remix.config.js `server` compiles it together with the app into
 * build/index.js, so this file and the routes share one module graph (one database handle).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Server } from "node:http";
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
import { createHttpApp } from "~/server/http.server";
import { createLogger } from "~/server/logger.server";
import { startBackgroundWork } from "~/server/background.server";
import { inboundSmtpOptions, startInboundSmtp } from "~/email/smtp-listener.server";

async function main(): Promise<void> {
  const env = getEnv();
  const logger = createLogger(env.LOG_LEVEL);
  getSecrets(); // fail fast: production refuses to start without its secrets
  const handle = await openAndMigrate(env);
  setDatabase(handle);
  const admin = await ensureFirstAdmin(handle.db, env);
  const demoEnabled = env.DEMO_DATA ?? env.NODE_ENV === "development";
  const demo = demoEnabled && !env.isProduction ? await ensureDemoData(handle.db, env) : undefined;

  const app = createHttpApp({
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

  const server: Server = app.listen(env.PORT, env.HOST, () => {
    printStartBanner(logger, env, { admin, demo });
    if (process.env.REMIX_DEV_ORIGIN) void broadcastDevReady(build as unknown as ServerBuild);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, "shutting down: finishing in-flight requests");
    const force = setTimeout(() => {
      logger.warn("shutdown timeout: closing remaining connections");
      server.closeAllConnections();
    }, env.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await smtp?.close();
    await stopBackground();
    await handle.close();
    setDatabase(undefined);
    logger.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
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
