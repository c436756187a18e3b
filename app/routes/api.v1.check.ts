import { fieldError, jsonResponse } from "~/api/errors.server";
import { check } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { decideSendMany } from "~/consent/consent.server";

/** POST /api/v1/check: send decisions for up to 10,000 recipients, in request order. */
export const { loader, action } = apiRoute(
  handler(check, async ({ db, body }) => {
    if (body.record && !body.campaign) throw fieldError("campaign", "is required with record");
    const results = await decideSendMany(db, {
      channel: body.channel,
      topic: body.topic ?? null,
      category: body.category,
      addresses: body.recipients,
      campaign: body.campaign ?? null,
      record: body.record === true,
    });
    return jsonResponse({ results });
  }),
);
