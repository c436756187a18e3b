import { ApiError, jsonResponse } from "~/api/errors.server";
import { exportContact } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { exportContactData } from "~/privacy/access.server";

/** GET /api/v1/contacts/{externalId}/export (docs/api.md): GDPR access and portability. */
export const { loader, action } = apiRoute(
  handler(exportContact, async ({ db, params, key, client }) => {
    const data = await exportContactData(
      db,
      { externalId: params.externalId },
      {
        actor: { type: "api_key", id: key.id },
        ip: client.ip,
        userAgent: client.userAgent,
        via: "api",
        as: "json",
      },
    );
    if (!data) throw new ApiError(404, "contact_not_found", "No contact has this external id");
    return jsonResponse(data);
  }),
);
