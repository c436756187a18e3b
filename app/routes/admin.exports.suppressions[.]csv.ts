import { redirect, type LoaderFunctionArgs } from "@remix-run/node";
import { operator, requireRole } from "~/admin/auth.server";
import { getDb } from "~/db/db.server";
import { ExportQuery, exportFilterOf } from "~/exports/filter";
import { exportSuppressions, suppressionCsvHeaders } from "~/exports/suppressions.server";

/**
 * GET /admin/exports/suppressions.csv?channel=&source=&from=&to=: the suppressions export,
 * streamed page by page from the database. A bad filter goes back to the form with its errors.
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const url = new URL(request.url);
  const values = Object.fromEntries(
    ["channel", "source", "from", "to"].map((k) => [
      k,
      (url.searchParams.get(k) ?? "").slice(0, 40),
    ]),
  );
  const parsed = ExportQuery.safeParse(values);
  if (!parsed.success) {
    throw redirect(`/admin/exports?${new URLSearchParams({ ...values, error: "1" })}`);
  }
  const filter = exportFilterOf(parsed.data);
  const body = await exportSuppressions(
    getDb(),
    filter,
    operator(user, request, context),
    Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v)),
  );
  return new Response(body, { headers: suppressionCsvHeaders(filter) });
}
