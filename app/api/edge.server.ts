import type { NextFunction, Request, Response } from "express";
import { ApiError, errorResponse, methodNotAllowed, noSuchOperation } from "~/api/errors.server";
import { allowedMethods } from "~/api/operations";

/**
 * Express middleware for /api/ that answers, in the API's JSON error shape, what never reaches a
 * route module: a path that is not valid percent-encoding (400), a method the router does not route (TRACE, PURGE, …: the Fetch API cannot even
 * build a request for some, and Remix answers the others with its own body), and any method but
 * GET/HEAD on an API page (/api/docs). A path no operation has is a JSON 404; a known path is a
 * JSON 405 with `Allow`. Everything else goes on to the routes, whose own answers already have
 * the shape (app/api/route.server.ts, app/routes/api.$.ts).
 */
const ROUTED = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const PAGES = /^\/api\/docs\/?$/;

function decodes(pathname: string): boolean {
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

export function apiEdge(req: Request, res: Response, next: NextFunction): void {
  const pathname = `${req.baseUrl}${req.path}`;
  const method = req.method.toUpperCase();
  let answer: globalThis.Response;
  if (!decodes(pathname)) {
    // Express would answer its own HTML 400 when it fails to decode the path.
    answer = errorResponse(
      new ApiError(400, "invalid_path", "The path is not valid percent-encoded UTF-8"),
    );
  } else {
    const readOnly = PAGES.test(pathname);
    if (ROUTED.has(method) && !(readOnly && method !== "GET" && method !== "HEAD")) return next();
    const allowed = allowedMethods(pathname);
    answer = allowed.length === 0 ? noSuchOperation(pathname) : methodNotAllowed(allowed);
  }
  res.status(answer.status);
  answer.headers.forEach((value, name) => res.setHeader(name, value));
  answer.text().then((body) => res.end(method === "HEAD" ? undefined : body), next);
}
