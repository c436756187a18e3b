import { findContact, patchPreferences, readPreferences } from "~/api/contacts.server";
import { jsonResponse } from "~/api/errors.server";
import { getPreferences, patchPreferences as patchOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** GET and PATCH /api/v1/contacts/{externalId}/preferences (docs/api.md). */
export const { loader, action } = apiRoute(
  handler(getPreferences, async ({ db, params }) => {
    const contact = await findContact(db, params.externalId);
    return jsonResponse(await readPreferences(db, contact));
  }),
  handler(patchOp, async ({ db, params, body, key, client }) => {
    const contact = await findContact(db, params.externalId);
    const { confirmations } = await patchPreferences(db, contact, body, {
      actor: { type: "api_key", id: key.id },
      ip: client.ip,
      userAgent: client.userAgent,
    });
    return jsonResponse({ ...(await readPreferences(db, contact)), confirmations });
  }),
);
