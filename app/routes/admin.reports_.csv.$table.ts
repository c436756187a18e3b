import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireUser } from "~/admin/auth.server";
import { csvDownloadHeaders } from "~/csv/csv.server";
import { getDb } from "~/db/db.server";
import { csvFilename, isCsvTable, reportCsv } from "~/reports/csv.server";
import { parseReportFilter } from "~/reports/filters";
import { getAlertSettings, rulesOf } from "~/reports/settings.server";
import { TEXT_NO_STORE } from "~/http/headers";

/**
 * GET /admin/reports/csv/{table}?from&to&channel&granularity: one report table as CSV, streamed,
 * with the same filters as the page (agents and admins).
 */
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const table = params.table ?? "";
  if (!isCsvTable(table)) {
    throw new Response(`There is no report table called "${table.slice(0, 40)}".`, {
      status: 404,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
  const { filter, errors } = parseReportFilter(new URL(request.url).searchParams);
  if (errors.length > 0) {
    return new Response(`Bad filter: ${errors.join(" ")}`, {
      status: 400,
      headers: TEXT_NO_STORE,
    });
  }
  const db = getDb();
  const stream = await reportCsv(db, table, filter, rulesOf(await getAlertSettings(db)));
  return new Response(stream, {
    status: 200,
    headers: csvDownloadHeaders(csvFilename(table, filter)),
  });
}
