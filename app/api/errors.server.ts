import { z } from "zod";
import { ConsentError } from "~/consent/consent.server";
import { databaseFault, type DatabaseFault } from "~/db/faults.server";
import { NO_STORE } from "~/http/headers";

/**
 * The error shape of the sender API (docs/api.md): `{"error": {"code", "message", "details"}}` with
 * a proper status. Bad input never ends in a 500.
 */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export class ApiError extends Error {
  constructor(
    readonly status: ApiErrorStatus,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const API_HEADERS = {
  ...NO_STORE,
  "Content-Type": "application/json; charset=utf-8",
} as const;

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return jsonTextResponse(JSON.stringify(body), status, headers);
}

/**
 * A JSON answer whose text is already written (a large answer built without an object tree), as
 * a string or as its UTF-8 bytes. Bytes go out as a stream of that one chunk: a Response made
 * from a Uint8Array copies it first (undici's extractBody), 5 ms for the links batch's 11 MB.
 */
export function jsonTextResponse(
  text: string | Uint8Array<ArrayBuffer>,
  status = 200,
  headers: Record<string, string> = {},
) {
  if (typeof text === "string") {
    return new Response(text, { status, headers: { ...API_HEADERS, ...headers } });
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(text);
      controller.close();
    },
  });
  return new Response(body, {
    status,
    headers: { ...API_HEADERS, ...headers, "Content-Length": String(text.byteLength) },
  });
}

export function errorResponse(error: ApiError): Response {
  return jsonResponse(
    { error: { code: error.code, message: error.message, details: error.details } },
    error.status,
    error.headers,
  );
}

/** 405 with `Allow` (HEAD is allowed wherever GET is). */
export function methodNotAllowed(allowed: readonly string[]): Response {
  const methods = [...new Set(allowed.flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m])))];
  return errorResponse(
    new ApiError(
      405,
      "method_not_allowed",
      `Use ${methods.join(" or ")} on this path`,
      { allowed: methods },
      { Allow: methods.join(", ") },
    ),
  );
}

/** 404 for a path under /api/ where no operation is. */
export function noSuchOperation(pathname: string): Response {
  return errorResponse(
    new ApiError(404, "not_found", "There is no API operation at this path", {
      path: pathname.slice(0, 200),
      documentation: "/api/v1/openapi.json",
    }),
  );
}

export type FieldIssue = { path: string; message: string; code: string };

function pathString(path: readonly PropertyKey[], prefix?: string): string {
  const parts = path.map((p) => String(p));
  return [prefix, ...parts].filter((p) => p !== undefined && p !== "").join(".");
}

/** 400 with one entry per invalid field, e.g. `{path: "recipients.3", message, code}`. */
export function validationError(error: z.ZodError, prefix?: string): ApiError {
  const issues: FieldIssue[] = error.issues.slice(0, 100).map((i) => ({
    path: pathString(i.path, prefix),
    message: i.message,
    code: i.code,
  }));
  const first = issues[0];
  return new ApiError(
    400,
    "invalid_request",
    first ? `Invalid request: ${first.path || "body"}: ${first.message}` : "Invalid request",
    { issues, ...(error.issues.length > 100 ? { truncated: true } : {}) },
  );
}

/** A 400 for one field, in the same shape as a zod validation error. */
export function fieldError(path: string, message: string, code = "invalid_value"): ApiError {
  return new ApiError(400, "invalid_request", `Invalid request: ${path}: ${message}`, {
    issues: [{ path, message, code }],
  });
}

/** Maps the consent core's refusals to API statuses. */
export function fromConsentError(e: ConsentError): ApiError {
  switch (e.code) {
    case "invalid_address":
      return new ApiError(400, "invalid_address", e.message, e.details);
    case "unknown_topic":
      return new ApiError(422, "unknown_topic", e.message, e.details);
    case "channel_unsubscribed":
    case "double_opt_in_required":
      return new ApiError(409, e.code, e.message, e.details);
    default:
      return new ApiError(422, e.code, e.message, e.details);
  }
}

/**
 * A database fault (app/db/faults.server.ts) in the API's shape: 503 `database_unavailable` with
 * Retry-After while the database cannot be reached, 400 when it refused a value.
 */
export function apiErrorOfDatabaseFault(fault: DatabaseFault): ApiError {
  if (fault.kind === "unavailable") {
    return new ApiError(
      503,
      "database_unavailable",
      "The database is unavailable right now. Retry after the time in Retry-After.",
      null,
      { "Retry-After": String(fault.retryAfterSeconds) },
    );
  }
  return new ApiError(400, "invalid_request", "Invalid request: a value was refused.", {
    issues: [{ path: "", message: "a value is not acceptable", code: "invalid_value" }],
  });
}

/** Turns anything thrown by an API handler into a response; unexpected errors are logged once. */
export function toErrorResponse(e: unknown): Response {
  if (e instanceof Response) return e;
  if (e instanceof ApiError) return errorResponse(e);
  if (e instanceof ConsentError) return errorResponse(fromConsentError(e));
  if (e instanceof z.ZodError) return errorResponse(validationError(e));
  const fault = databaseFault(e);
  if (fault) return errorResponse(apiErrorOfDatabaseFault(fault));
  console.error("API handler failed", e);
  return errorResponse(new ApiError(500, "internal_error", "Something went wrong on our side"));
}
