import { redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { getDb } from "~/db/db.server";
import { resolveShortLink } from "~/links/short-links.server";
import { TOKEN_PAGE_HEADERS } from "~/http/request.server";
import { tokenErrorResponse } from "~/recipient/page.server";
import { TokenErrorPage } from "~/ui/token-error";

/**
 * /s/{code}: an SMS short link resolves to the page it stands for (a local path; never an
 * external URL). Reading only: the target page does the rest. Unknown codes get the friendly
 * "link does not work" page (404), expired ones 410.
 */

export const headers = () => TOKEN_PAGE_HEADERS;

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: data?.title ?? "Link" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const db = getDb();
  const found = await resolveShortLink(db, params.code ?? "");
  if (found.ok && found.target.startsWith("/") && !found.target.startsWith("//")) {
    return redirect(found.target, { status: 302, headers: TOKEN_PAGE_HEADERS });
  }
  const expired = !found.ok && found.reason === "expired";
  return tokenErrorResponse(db, request, null, expired ? "expired" : "invalid", {
    status: expired ? 410 : 404,
  });
}

export default function ShortLinkPage() {
  const data = useLoaderData<typeof loader>();
  return <TokenErrorPage reason={data.tokenError} branding={data.branding} />;
}
