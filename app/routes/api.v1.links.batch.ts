import { jsonTextResponse } from "~/api/errors.server";
import { createLinksBatchJson } from "~/api/links.server";
import { createLinksBatch as batchOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** POST /api/v1/links/batch: links for up to 10,000 recipients of one campaign. */
export const { loader, action } = apiRoute(
  handler(batchOp, async ({ db, body }) =>
    // The answer is written as JSON bytes straight from the tokens (10,000 entries of ~1 kB).
    jsonTextResponse(await createLinksBatchJson(db, body.externalIds, body)),
  ),
);
