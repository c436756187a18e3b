import { redirect, type LoaderFunctionArgs } from "@remix-run/node";
import { operator, requireRole } from "~/admin/auth.server";
import { getDb } from "~/db/db.server";
import {
  EXPORT_QUERY_KEYS,
  EXPORT_STARTED_COOKIE,
  ExportQuery,
  exportFilterOf,
} from "~/exports/filter";
import { exportSuppressions, suppressionCsvHeaders } from "~/exports/suppressions.server";

/**
 * GET /admin/exports/suppressions.csv?channel=&source=&from=&to=&separator=: the suppressions
 * export for a spreadsheet (UTF-8 BOM, the chosen separator, Unicode domains plus their ASCII
 * form), streamed page by page from the database. A bad filter goes back to the form with its
 * errors. With `progress`, a short-lived cookie tells the page that the download started.
 */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const url = new URL(request.url);
  const values = Object.fromEntries(
    EXPORT_QUERY_KEYS.map((k) => [k, (url.searchParams.get(k) ?? "").slice(0, 40)]),
  );
  const parsed = ExportQuery.safeParse(values);
  if (!parsed.success) {
    const { progress: _progress, ...back } = values;
    throw redirect(`/admin/exports?${new URLSearchParams({ ...back, error: "1" })}`);
  }
  const { progress, separator, ...filterValues } = parsed.data;
  const filter = exportFilterOf(parsed.data);
  const body = await exportSuppressions(
    getDb(),
    filter,
    operator(user, request, context),
    Object.fromEntries(Object.entries({ ...filterValues, separator }).filter(([, v]) => v)),
    { forPeople: { delimiter: separator === "semicolon" ? ";" : "," } },
  );
  const headers = new Headers(suppressionCsvHeaders(filter));
  if (progress) {
    headers.append(
      "Set-Cookie",
      `${EXPORT_STARTED_COOKIE}=${progress}; Path=/admin/exports; Max-Age=120; SameSite=Strict`,
    );
  }
  return new Response(body, { headers });
}
