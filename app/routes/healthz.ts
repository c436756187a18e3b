import { json } from "@remix-run/node";
import { getDatabase, pingDatabase } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";

/** Liveness and readiness: 200 with the database status, 503 when the database does not answer. */
export async function loader() {
  const handle = getDatabase();
  const started = performance.now();
  const ok = await pingDatabase(handle.db);
  const latencyMs = Math.round((performance.now() - started) * 10) / 10;
  return json(
    { status: ok ? "ok" : "unavailable", database: { kind: handle.kind, ok, latencyMs } },
    { status: ok ? 200 : 503, headers: NO_STORE },
  );
}
