import { useRouteLoaderData } from "@remix-run/react";
import type { I18nPayload } from "~/i18n/i18n.shared";

/**
 * The admin layout's data on every page below it: the signed-in operator and the session's CSRF
 * token (with <CsrfInput />, the hidden field every admin form carries).
 */

/** What the admin layout's loader (app/routes/admin.tsx) gives every page below it. */
export type AdminLayoutData = {
  user: { id: string; email: string; name: string | null; role: "agent" | "admin" };
  csrfToken: string;
  /** The `admin` namespace and the shared labels, for every page below (docs/admin-languages.md). */
  i18n: I18nPayload;
};

export const ADMIN_LAYOUT_ID = "routes/admin";

export function useAdminLayout(): AdminLayoutData | undefined {
  return useRouteLoaderData<AdminLayoutData>(ADMIN_LAYOUT_ID);
}

/** The signed-in operator (on any page under /admin except the login page). */
export function useAdminUser(): AdminLayoutData["user"] | undefined {
  return useAdminLayout()?.user;
}

/**
 * The hidden CSRF field every admin <form method="post"> must contain; the action checks it with
 * requireAction() / verifyCsrf() (app/admin/auth.server.ts, csrf.server.ts).
 */
export function CsrfInput() {
  const token = useAdminLayout()?.csrfToken ?? "";
  return <input type="hidden" name="csrf" value={token} />;
}
