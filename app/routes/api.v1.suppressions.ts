import { jsonResponse } from "~/api/errors.server";
import { suppress } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { suppressAddresses } from "~/api/suppressions.server";

/** POST /api/v1/suppressions: suppress addresses on a channel or on all (docs/api.md). */
export const { loader, action } = apiRoute(
  handler(suppress, async ({ db, body, key, client }) => {
    const result = await suppressAddresses(db, {
      ...body,
      actor: { type: "api_key", id: key.id },
      ip: client.ip,
      userAgent: client.userAgent,
    });
    return jsonResponse(result);
  }),
);
