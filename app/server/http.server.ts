import type { IncomingMessage, ServerResponse } from "node:http";
import express from "express";
import helmet from "helmet";
import proxyaddr from "proxy-addr";
import { pinoHttp } from "pino-http";
import type { Logger } from "pino";
import { Readable } from "node:stream";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import type { Env } from "~/env.server";
import { refuseCrossSiteAdminWrites } from "~/admin/provenance-middleware.server";
import { apiEdge } from "~/api/edge.server";
import { withDatabaseFaultHandling } from "~/http/database-faults.server";
import { isLoopbackClient } from "~/http/dev-access.server";
import { inputEdge, withInputGuard } from "~/http/input-guard.server";
import { redactPath } from "~/server/logger.server";
import { oneClickFastPath, replayedBody } from "~/server/one-click.server";
import { tokenPageFastPath } from "~/server/token-pages.server";
import { answerHealthz } from "~/http/health.server";
import { cspNonce, requestIdFor } from "~/http/request.server";

export type AppLoadContext = {
  nonce: string;
  requestId: string;
  clientIp: string | null;
  /** The client is on this machine (app/http/dev-access.server.ts). */
  loopbackClient: boolean;
};

declare module "@remix-run/node" {
  interface AppLoadContext {
    nonce: string;
    requestId: string;
    clientIp: string | null;
    loopbackClient: boolean;
  }
}

/**
 * The server's request listener: /healthz, RFC 8058 one-click POSTs and the token pages' GETs are
 * answered before express (app/http/health.server.ts, app/server/one-click.server.ts,
 * app/server/token-pages.server.ts); everything else goes through the express app around Remix
 * (request ids, logs, security headers, static files).
 */
export function createRequestListener(options: Parameters<typeof createHttpApp>[0]) {
  const { app, tokenPages } = createHttpApp(options);
  // The address express's req.ip would give (the same TRUST_PROXY rule).
  const trust = app.get("trust proxy fn") as Parameters<typeof proxyaddr>[1];
  const oneClick = oneClickFastPath(options.logger, (req) => proxyaddr(req, trust) ?? null);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (answerHealthz(req, res)) return;
    if (req.method === "POST") return oneClick(req, res, () => app(req, res));
    tokenPages(req, res).then(
      (answered) => {
        if (!answered) app(req, res);
      },
      () => {
        if (!res.headersSent) app(req, res);
      },
    );
  };
}

/** The express app around Remix: request ids, logs, security headers, static files. */
export function createHttpApp(options: {
  build: ServerBuild;
  env: Env;
  logger: Logger;
  /** Static files (public/). */
  publicDir: string;
  /** The browser build (fingerprinted, served under /build/). */
  assetsDir: string;
}) {
  const { build, env, logger, publicDir, assetsDir } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", env.TRUST_PROXY);

  app.use((req, res, next) => {
    const id = requestIdFor(req.get("x-request-id"));
    res.locals.requestId = id;
    res.locals.cspNonce = cspNonce();
    res.setHeader("X-Request-Id", id);
    next();
  });

  // Remix refuses (with a 500) any action whose Origin differs from Host.
  // - Outside /admin that check protects nothing: recipient pages are authorized by the token in
  //   the URL and the API by a bearer key, never by a cookie. It would break an RFC 8058 one-click
  //   POST sent from a webmail's own origin, so Origin is dropped there.
  // - In /admin, every page sends Referrer-Policy: no-referrer, so browsers send `Origin: null`
  //   with plain same-origin form posts (Fetch spec): dropped when the browser itself says the post
  //   is same-origin. A real cross-site write gets refuseCrossSiteAdminWrites' 403 below, and every
  //   admin action checks its CSRF token.
  app.use((req, _res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const admin = req.path === "/admin" || req.path.startsWith("/admin/");
      if (!admin || (origin === "null" && req.get("sec-fetch-site") === "same-origin")) {
        delete req.headers.origin;
      }
    }
    next();
  });

  app.use(
    pinoHttp({
      logger,
      genReqId: (_req, res) => (res as express.Response).locals.requestId as string,
      // Only what is safe to keep: no headers, no query, tokens and ids cut out of the path.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          path: redactPath(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // A 503 is a known state (the database is unavailable; logged once per outage), not a bug.
      customLogLevel: (_req, res, err) =>
        err || (res.statusCode >= 500 && res.statusCode !== 503)
          ? "error"
          : res.statusCode >= 400
            ? "warn"
            : "info",
      autoLogging: {
        ignore: (req) => req.url === "/healthz" || req.url?.startsWith("/build/") === true,
      },
    }),
  );

  const devOrigin = process.env.REMIX_DEV_ORIGIN;
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        "default-src": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "img-src": ["'self'", "https:", "data:"],
        "style-src": [
          "'self'",
          (_req, res) => `'nonce-${(res as express.Response).locals.cspNonce}'`,
        ],
        "script-src": [
          "'strict-dynamic'",
          (_req, res) => `'nonce-${(res as express.Response).locals.cspNonce}'`,
        ],
        "connect-src": ["'self'", ...(devOrigin ? [devOrigin.replace(/^http/, "ws")] : [])],
        "upgrade-insecure-requests": env.isProduction ? [] : null,
      },
    },
    referrerPolicy: { policy: "no-referrer" },
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity: env.isProduction,
  });
  app.use(securityHeaders);
  // Heed's pages are personal: never indexed.
  app.use((_req, res, next) => {
    res.setHeader("X-Robots-Tag", "noindex, nofollow");
    next();
  });

  // Unknown methods (405), a NUL in the URL (400) and declared bodies over the path's cap (413),
  // before anything reads the request (app/http/input-guard.server.ts).
  app.use(inputEdge(env));

  app.use(
    "/build",
    express.static(assetsDir, { immutable: true, maxAge: "1y", index: false, fallthrough: false }),
  );
  app.use(express.static(publicDir, { maxAge: "1h", index: false }));
  app.get("/favicon.ico", (_req, res) => res.redirect(301, "/favicon.svg"));

  // A cross-site write to /admin gets a clear 403 before Remix sees it.
  app.use(refuseCrossSiteAdminWrites);
  // Under /api/, methods that no route handles still answer the API's JSON error shape.
  app.use("/api", apiEdge);

  // Bodies read under their cap and checked for NUL before an action sees them.
  const remixBuild = withDatabaseFaultHandling(withInputGuard(build, env));
  const mode = env.isProduction ? "production" : build.mode;
  const getLoadContext = (req: express.Request, res: express.Response): AppLoadContext => ({
    nonce: res.locals.cspNonce as string,
    requestId: res.locals.requestId as string,
    clientIp: req.ip ?? null,
    loopbackClient: isLoopbackClient(req, env.TRUST_PROXY),
  });
  // Database faults answer 503 + Retry-After (or 400 for refused values) on every route.
  const remix = createRequestHandler({ build: remixBuild, mode, getLoadContext });
  app.all("*", (req, res, next) => {
    const body = replayedBody(res);
    if (!body) return remix(req, res, next);
    // A POST to /u/{token} whose body the one-click fast path read (it was not a one-click):
    // Remix gets the same request with that body. @remix-run/express reads the body as a stream
    // from the request object: this one is the buffered body as a stream for stream methods, and
    // the request itself for everything else (URL, method, headers, socket, ip, get, ...).
    const stream = Readable.from([body]);
    const replay = new Proxy(stream, {
      get(target, prop) {
        if (prop in target) return Reflect.get(target, prop, target) as unknown;
        const value = Reflect.get(req, prop, req) as unknown;
        return typeof value === "function"
          ? (value as (...a: unknown[]) => unknown).bind(req)
          : value;
      },
    });
    return remix(replay as unknown as express.Request, res, next);
  });

  const tokenPages = tokenPageFastPath({
    build,
    mode,
    securityHeaders(req, res, nonce) {
      (res as unknown as { locals: object }).locals = { cspNonce: nonce };
      securityHeaders(req, res, () => {});
      res.setHeader("X-Robots-Tag", "noindex, nofollow");
    },
    loadContext: (req, nonce, requestId) => ({
      nonce,
      requestId,
      // The token pages' loaders read no client address (only their actions do, on the normal path).
      clientIp: null,
      loopbackClient: false,
    }),
  });
  return { app, tokenPages };
}
