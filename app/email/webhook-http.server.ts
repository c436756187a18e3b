import { readCappedBody } from "~/http/capped-body.server";
import { ApiError, errorResponse, jsonResponse } from "~/api/errors.server";

/**
 * The HTTP edge of the email provider webhooks (/webhooks/email/*): POST only, the body read as
 * raw bytes under a cap (a lying Content-Length or a chunked body cannot make Heed buffer more),
 * then the adapter verifies the provider's signature on those bytes before anything is parsed or
 * written. Refusals use the API's error shape: 403 for a missing or wrong signature (or a
 * provider Heed is not configured for), 413 for a body over the cap, 400 for a payload that
 * does not read; never a 500 for bad input.
 */

export const EVENTS_MAX_BYTES = 5 * 1024 * 1024;
export const INBOUND_MAX_BYTES = 15 * 1024 * 1024;

export class WebhookRefusal extends Error {
  constructor(
    readonly status: 400 | 403 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "WebhookRefusal";
  }
}

export function forbidden(code: string, message: string): WebhookRefusal {
  return new WebhookRefusal(403, code, message);
}

export function badPayload(message: string): WebhookRefusal {
  return new WebhookRefusal(400, "invalid_payload", message);
}

export function readRawBody(request: Request, maxBytes: number): Promise<Buffer> {
  return readCappedBody(
    request,
    maxBytes,
    () =>
      new WebhookRefusal(
        413,
        "payload_too_large",
        `The request body is larger than ${maxBytes} bytes`,
      ),
  );
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    throw badPayload("The body is not valid JSON");
  }
}

/** Form fields of an urlencoded or multipart body (after its signature was checked, if any). */
export async function parseForm(raw: Buffer, contentType: string | null): Promise<FormData> {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "multipart/form-data" && type !== "application/x-www-form-urlencoded") {
    throw new WebhookRefusal(
      415,
      "unsupported_media_type",
      "Expected a form (multipart or urlencoded)",
    );
  }
  try {
    return await new Response(new Uint8Array(raw), {
      headers: { "Content-Type": contentType! },
    }).formData();
  } catch {
    throw badPayload("The form could not be read");
  }
}

/**
 * A webhook route's action: method check, then `run`, with refusals turned into responses.
 * `run` reads the body itself (with readRawBody) so that each provider chooses its cap.
 */
export function webhookAction(run: (request: Request) => Promise<Response>) {
  return async ({ request }: { request: Request }): Promise<Response> => {
    if (request.method !== "POST") {
      return errorResponse(
        new ApiError(405, "method_not_allowed", "Use POST", null, { Allow: "POST" }),
      );
    }
    try {
      return await run(request);
    } catch (e) {
      if (e instanceof WebhookRefusal) {
        return errorResponse(new ApiError(e.status, e.code, e.message));
      }
      throw e;
    }
  };
}

export function webhookLoader() {
  return errorResponse(
    new ApiError(
      405,
      "method_not_allowed",
      "This webhook accepts POST requests from the provider",
      null,
      {
        Allow: "POST",
      },
    ),
  );
}

export function accepted(body: Record<string, unknown>): Response {
  return jsonResponse({ ok: true, ...body });
}
