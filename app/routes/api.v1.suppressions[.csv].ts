import { exportSuppressions } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { suppressionsCsvStream } from "~/api/suppressions.server";

/** GET /api/v1/suppressions.csv: every suppressed address, streamed in batches. */
export const { loader, action } = apiRoute(
  handler(exportSuppressions, async ({ db, query }) => {
    const stream = suppressionsCsvStream(db, {
      channel: query.channel,
      source: query.source,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
    });
    return new Response(stream, {
      status: 200,
      headers: {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="suppressions.csv"',
        "Cache-Control": "no-store",
      },
    });
  }),
);
