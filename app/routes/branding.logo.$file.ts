import type { LoaderFunctionArgs } from "@remix-run/node";
import { getDb } from "~/db/db.server";
import { TEXT_NO_STORE } from "~/http/headers";
import { readLogo } from "~/settings/logo.server";

/**
 * An uploaded branding logo (app/settings/logo.server.ts), as recipient pages and emails show it.
 * The name carries the content's hash, so the file under a name never changes: cached for a year,
 * immutable. Served with its checked type, never sniffed, and sandboxed should anyone open it.
 */
export async function loader({ params }: LoaderFunctionArgs) {
  const logo = await readLogo(getDb(), params.file ?? "");
  if (!logo) return new Response("Not found.\n", { status: 404, headers: TEXT_NO_STORE });
  return new Response(Buffer.from(logo.bytes), {
    status: 200,
    headers: {
      "Content-Type": logo.contentType,
      "Content-Length": String(logo.bytes.byteLength),
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      // Mail clients and other sites show it (helmet's default is same-origin).
      "Cross-Origin-Resource-Policy": "cross-origin",
    },
  });
}
