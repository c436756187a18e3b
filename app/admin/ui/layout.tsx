import { useRouteLoaderData } from "@remix-run/react";

/**
 * The admin layout's data on every page below it: the signed-in operator and the session's CSRF
 * token (with <CsrfInput />, the hidden field every admin form carries).
 */

/** What the admin layout's loader (app/routes/admin.tsx) gives every page below it. */
export type AdminLayoutData = {
  user: { id: string; email: string; name: string | null; role: "agent" | "admin" };
  csrfToken: string;
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
