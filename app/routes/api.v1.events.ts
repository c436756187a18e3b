import { jsonResponse } from "~/api/errors.server";
import { listEvents } from "~/api/events.server";
import { listEvents as listOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** GET /api/v1/events?after={cursor}: consent ledger entries in a stable order, for syncing. */
export const { loader, action } = apiRoute(
  handler(listOp, async ({ db, query }) => jsonResponse(await listEvents(db, query))),
);
