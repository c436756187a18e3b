import { contactJson, upsertContact } from "~/api/contacts.server";
import { jsonResponse } from "~/api/errors.server";
import { putContact } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** PUT /api/v1/contacts/{externalId}: create or update a contact (docs/api.md). */
export const { loader, action } = apiRoute(
  handler(putContact, async ({ db, params, body }) => {
    const { contact, created } = await upsertContact(db, params.externalId, body);
    return jsonResponse(contactJson(contact), created ? 201 : 200);
  }),
);
