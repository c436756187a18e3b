import type { LoaderFunctionArgs } from "@remix-run/node";
import { audit } from "~/admin/audit.server";
import { operator, requireRole } from "~/admin/auth.server";
import { getDb } from "~/db/db.server";
import { getImportJob, importErrorsCsv } from "~/imports/jobs.server";

/** GET /admin/imports/{id}/errors.csv: the import's error report (line, value, error), streamed. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const db = getDb();
  const job = await getImportJob(db, params.id ?? "");
  if (!job) throw new Response("There is no import with this id.", { status: 404 });
  await audit(db, {
    ...operator(user, request, context),
    action: "import.errors_download",
    target: { type: "import", id: job.id },
    details: { invalid: job.invalid },
  });
  const chunks = importErrorsCsv(db, job.id);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  const base =
    job.file_name
      .replace(/\.[^.]*$/, "")
      .replace(/[^\w.-]+/g, "_")
      .slice(0, 80) || "import";
  return new Response(body, {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${base}-errors.csv"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
