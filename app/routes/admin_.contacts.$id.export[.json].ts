import type { LoaderFunctionArgs } from "@remix-run/node";
import { operator, requireRole } from "~/admin/auth.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { exportContactData } from "~/privacy/access.server";

/** The machine-readable copy (GDPR art. 20): the same document as the API's, audited. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const data = await exportContactData(
    getDb(),
    { contactId: params.id ?? "" },
    { ...operator(user, request, context), via: "admin", as: "json" },
  );
  if (!data) throw new Response("There is no contact with this id.", { status: 404 });
  const name = String(data.contact.external_id ?? data.contact.id).replace(/[^\w.-]+/g, "_");
  return new Response(JSON.stringify(data, null, 2), {
    headers: {
      ...NO_STORE,
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="heed-export-${name.slice(0, 80)}.json"`,
    },
  });
}
