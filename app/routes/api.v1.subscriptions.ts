import { ApiError, jsonResponse } from "~/api/errors.server";
import { subscribe } from "~/api/operations";
import { apiRoute, handler } from "~/api/route.server";
import { startDoubleOptIn } from "~/consent/double-opt-in.server";

/**
 * POST /api/v1/subscriptions: starts double opt-in for a new or unsubscribed address. It never
 * subscribes directly: the address is subscribed when the person confirms.
 */
export const { loader, action } = apiRoute(
  handler(subscribe, async ({ db, body, client }) => {
    const result = await startDoubleOptIn(db, {
      channel: body.channel,
      address: body.address,
      topics: body.topics,
      locale: body.locale ?? null,
      source: "api",
      ip: client.ip,
      userAgent: client.userAgent,
    });
    if (result.status === "rate_limited") {
      throw new ApiError(
        429,
        "confirmation_rate_limited",
        "Too many confirmations were sent to this address recently; try again tomorrow",
        { requestId: result.requestId || null, retryAfterSeconds: result.retryAfterSeconds },
        { "Retry-After": String(result.retryAfterSeconds ?? 24 * 3600) },
      );
    }
    return jsonResponse(
      {
        requestId: result.requestId || null,
        status: result.status,
        ...(result.status === "keyword_required"
          ? { keyword: "START", keywordNumber: result.keywordNumber ?? null }
          : {}),
      },
      202,
    );
  }),
);
