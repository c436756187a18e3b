import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs } from "@remix-run/node";
import { requireAction, requireUser } from "~/admin/auth.server";
import { logout } from "~/admin/login.server";
import { clearSessionCookie } from "~/admin/session.server";
import { getDb } from "~/db/db.server";
import { clientInfo } from "~/http/request.server";
import { NO_STORE } from "~/http/headers";

/** Logging out is a POST (with the CSRF token); a GET changes nothing and goes home. */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  return redirect("/admin");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, session } = await requireAction(request, "agent");
  const { ip, userAgent } = clientInfo(request, context);
  await logout(getDb(), { user, idHash: session.idHash, ip, userAgent });
  return redirect("/admin/login", {
    headers: { "Set-Cookie": await clearSessionCookie(), ...NO_STORE },
  });
}
