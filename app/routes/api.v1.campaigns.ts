import { ApiError, jsonResponse } from "~/api/errors.server";
import { upsertCampaign as upsertOp } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { campaignJson, upsertCampaign } from "~/campaigns/campaigns.server";

/** POST /api/v1/campaigns: register or update a campaign (upsert by key). */
export const { loader, action } = apiRoute(
  handler(upsertOp, async ({ db, body }) => {
    const result = await upsertCampaign(db, body);
    if (!result.ok && result.reason === "unknown_topic") {
      throw new ApiError(422, "unknown_topic", `Unknown topic: ${body.topic}`, {
        topic: body.topic,
      });
    }
    if (!result.ok) {
      throw new ApiError(
        409,
        "campaign_channel_conflict",
        `Campaign "${body.key}" is registered on ${result.existingChannel}; use another key for a ${body.channel} send`,
        { existingChannel: result.existingChannel },
      );
    }
    return jsonResponse(campaignJson(result.campaign), result.created ? 201 : 200);
  }),
);
