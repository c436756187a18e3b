import { readCappedBody } from "~/http/capped-body.server";
import { ApiError } from "~/api/errors.server";
import { findBadText } from "~/http/text-check";

/**
 * Request bodies of the sender API: JSON only, with a size cap enforced while reading (a client
 * that lies in Content-Length or sends chunked bodies cannot make us buffer more than the cap).
 * 10,000 recipients of 254 characters fit under the default.
 */
export const MAX_JSON_BODY_BYTES = 5 * 1024 * 1024;

function tooLarge(max: number): ApiError {
  return new ApiError(413, "payload_too_large", `The request body is larger than ${max} bytes`, {
    maxBytes: max,
  });
}

export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  return (await readCappedBody(request, maxBytes, () => tooLarge(maxBytes))).toString("utf8");
}

export async function readJsonBody(
  request: Request,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<unknown> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "Send the body as JSON with Content-Type: application/json",
    );
  }
  const text = await readBodyText(request, maxBytes);
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "The request body is empty");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError(400, "invalid_json", "The request body is not valid JSON", {
      parser: (e as Error).message.slice(0, 200),
    });
  }
  // A NUL or a lone surrogate (`\u0000`, `\ud800`) in any string: 400 naming the field.
  const bad = findBadText(parsed);
  if (bad) {
    const path = bad.path ? `body.${bad.path}` : "body";
    throw new ApiError(400, "invalid_request", `Invalid request: ${path}: ${bad.why}`, {
      issues: [{ path, message: bad.why, code: "invalid_string" }],
    });
  }
  return parsed;
}
