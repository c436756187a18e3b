import { exportSuppressions } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { suppressionCsvHeaders, suppressionCsvStream } from "~/exports/suppressions.server";

/** GET /api/v1/suppressions.csv: every suppressed address, streamed in keyset pages. */
export const { loader, action } = apiRoute(
  handler(exportSuppressions, async ({ db, query }) => {
    // The same export as Admin → Exports (one implementation, one column set).
    const filter = {
      channel: query.channel,
      source: query.source,
      from: query.since ? new Date(query.since) : undefined,
      to: query.until ? new Date(query.until) : undefined,
    };
    return new Response(suppressionCsvStream(db, filter), {
      status: 200,
      headers: suppressionCsvHeaders(filter),
    });
  }),
);
