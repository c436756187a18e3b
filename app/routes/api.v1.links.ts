import { findContact } from "~/api/contacts.server";
import { jsonResponse } from "~/api/errors.server";
import { createLinks } from "~/api/links.server";
import { createLinks as createLinksOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";

/** POST /api/v1/links: preference/unsubscribe links and List-Unsubscribe headers (docs/links.md). */
export const { loader, action } = apiRoute(
  handler(createLinksOp, async ({ db, body }) => {
    const contact = await findContact(db, body.externalId);
    return jsonResponse(await createLinks(db, contact, body));
  }),
);
