import { json } from "@remix-run/node";
import { databaseHealth, healthHeaders } from "~/http/health.server";

/**
 * Liveness and readiness: 200 with the database status, 503 when the database does not answer.
 * The server answers /healthz before express (app/http/health.server.ts); this route is the same
 * answer for anything that runs the Remix build without that server (tests, other adapters).
 */
export async function loader() {
  const health = await databaseHealth();
  return json(health.body, { status: health.status, headers: healthHeaders(health) });
}
