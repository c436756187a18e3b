import type { LoaderFunctionArgs } from "@remix-run/node";
import { operator, requireRole } from "~/admin/auth.server";
import { getDb } from "~/db/db.server";
import { downloadImportErrors } from "~/imports/jobs.server";

/** GET /admin/imports/{id}/errors.csv: the import's error report (line, value, error), streamed. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const download = await downloadImportErrors(
    getDb(),
    params.id ?? "",
    operator(user, request, context),
  );
  if (!download) throw new Response("There is no import with this id.", { status: 404 });
  return new Response(download.body, { headers: download.headers });
}
