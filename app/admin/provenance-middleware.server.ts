import type { NextFunction, Request, Response } from "express";
import { provenanceProblemOf } from "~/admin/csrf.server";
import { TEXT_NO_STORE } from "~/http/headers";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Express middleware: refuses a write to the admin area that the browser says comes from another
 * site with a clear 403, before Remix sees it. (Remix's own check of document POSTs answers a
 * foreign Origin with an empty 500 and an error log; this makes the refusal explicit.) The
 * admin actions check the same headers and the CSRF token again (csrf.server.ts).
 *
 * Mount it in app/server/http.server.ts before the Remix handler:
 *   app.use(refuseCrossSiteAdminWrites);
 */
export function refuseCrossSiteAdminWrites(req: Request, res: Response, next: NextFunction): void {
  if (
    !WRITE_METHODS.has(req.method) ||
    !(req.path === "/admin" || req.path.startsWith("/admin/"))
  ) {
    next();
    return;
  }
  const problem = provenanceProblemOf({
    secFetchSite: req.get("sec-fetch-site") ?? null,
    origin: req.get("origin") ?? null,
    host: req.get("x-forwarded-host")?.split(",")[0]?.trim() || req.get("host") || null,
  });
  if (!problem) {
    next();
    return;
  }
  res.status(403).set(TEXT_NO_STORE).send(`Forbidden: ${problem}.`);
}
