import { jsonResponse } from "~/api/errors.server";
import { createLinksBatch } from "~/api/links.server";
import { createLinksBatch as batchOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** POST /api/v1/links/batch: links for up to 10,000 recipients of one campaign. */
export const { loader, action } = apiRoute(
  handler(batchOp, async ({ db, body }) => {
    const results = await createLinksBatch(db, body.externalIds, body);
    return jsonResponse({ results });
  }),
);
