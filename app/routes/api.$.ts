import type { LoaderFunctionArgs } from "@remix-run/node";
import { noSuchOperation } from "~/api/errors.server";

/**
 * Any path under /api/ that no operation has (e.g. /api/v1/no-such-thing), with any method: the
 * API's JSON error shape (404 `not_found`), never the HTML page for people.
 */
const answer = ({ request }: LoaderFunctionArgs) =>
  Promise.resolve(noSuchOperation(new URL(request.url).pathname));

export const loader = answer;
export const action = answer;
