import type { IncomingMessage, ServerResponse } from "node:http";
import { getDatabase, pingDatabase, type DatabaseHandle } from "~/db/db.server";
import { DATABASE_RETRY_AFTER_SECONDS } from "~/db/faults.server";
import { NO_STORE } from "~/http/headers";

/**
 * /healthz: liveness and readiness, 200 with the database status or 503 (with Retry-After) when
 * the database does not answer.
 *
 * Load balancers and monitors poll it, sometimes hard (issue 14: it ran at 1/75 of a bare
 * node:http server because it went through express, Remix and one database round trip per
 * request). It is answered before express (app/server/main.ts), and concurrent requests share
 * one ping: a request that arrives while a ping is in flight waits for that ping's answer
 * instead of starting its own. Every answer is still a ping that started no earlier than the
 * request arrived minus one round trip; nothing is cached across pings, so a database that went
 * away answers 503 on the very next ping.
 */
export type Health = {
  status: 200 | 503;
  body: {
    status: "ok" | "unavailable";
    database: { kind: DatabaseHandle["kind"]; ok: boolean; latencyMs: number };
  };
};

const inFlight = new WeakMap<DatabaseHandle, Promise<Health>>();

export function databaseHealth(handle: DatabaseHandle = getDatabase()): Promise<Health> {
  const running = inFlight.get(handle);
  if (running) return running;
  const started = performance.now();
  const ping = pingDatabase(handle.db).then((ok): Health => {
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    return {
      status: ok ? 200 : 503,
      body: { status: ok ? "ok" : "unavailable", database: { kind: handle.kind, ok, latencyMs } },
    };
  });
  inFlight.set(handle, ping);
  const clear = () => {
    if (inFlight.get(handle) === ping) inFlight.delete(handle);
  };
  ping.then(clear, clear);
  return ping;
}

export function healthHeaders(health: Health): Record<string, string> {
  return {
    "Content-Type": "application/json; charset=utf-8",
    ...NO_STORE,
    "X-Content-Type-Options": "nosniff",
    ...(health.status === 503 ? { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) } : {}),
  };
}

/** GET/HEAD /healthz on the bare node:http request; false when the request is not one. */
export function answerHealthz(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const url = req.url ?? "";
  if (url !== "/healthz" && !url.startsWith("/healthz?")) return false;
  databaseHealth().then(
    (health) => {
      const body = JSON.stringify(health.body);
      res.writeHead(health.status, {
        ...healthHeaders(health),
        "Content-Length": Buffer.byteLength(body),
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
    () => {
      res.writeHead(503, { ...NO_STORE, "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) });
      res.end();
    },
  );
  return true;
}
