import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { requireSession } from "~/admin/auth.server";
import { csrfTokenFor } from "~/admin/csrf.server";
import { AdminErrorBoundary } from "~/admin/ui/components";
import { CsrfInput, type AdminLayoutData } from "~/admin/ui/layout";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Heed admin" }];

/** Every admin page (the child routes inherit this): operators' data is never cached. */
export const headers = () => NO_STORE;

/**
 * The admin layout: navigation, the signed-in user, the CSRF token for forms. It authorizes too,
 * but every child route authorizes its own loader and action (requireRole / requireAction).
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const { user, session } = await requireSession(request, "agent");
  const data: AdminLayoutData = { user, csrfToken: csrfTokenFor(session) };
  return json(data, { headers: NO_STORE });
}

type NavItem = { to: string; label: string; role: "agent" | "admin" };

const NAV: NavItem[] = [
  { to: "/admin/contacts", label: "Contacts", role: "agent" },
  { to: "/admin/suppressions", label: "Suppressions", role: "agent" },
  { to: "/admin/sms/review", label: "SMS review", role: "agent" },
  { to: "/admin/imports", label: "Imports", role: "admin" },
  { to: "/admin/sources", label: "Data sources", role: "admin" },
  { to: "/admin/exports", label: "Exports", role: "admin" },
  { to: "/admin/reports", label: "Reports", role: "agent" },
  { to: "/admin/topics", label: "Topics", role: "admin" },
  { to: "/admin/reasons", label: "Reasons", role: "admin" },
  { to: "/admin/frequency", label: "Frequency", role: "admin" },
  { to: "/admin/branding", label: "Branding", role: "admin" },
  { to: "/admin/phone-numbers", label: "Phone numbers", role: "admin" },
  { to: "/admin/users", label: "Users", role: "admin" },
  { to: "/admin/api-keys", label: "API keys", role: "admin" },
  { to: "/admin/webhooks", label: "Webhooks", role: "admin" },
  { to: "/admin/email", label: "Email providers", role: "admin" },
  { to: "/admin/outbox", label: "Outbox", role: "admin" },
  { to: "/admin/audit", label: "Audit log", role: "admin" },
  { to: "/admin/ledger", label: "Ledger", role: "admin" },
];

export default function AdminLayout() {
  const { user } = useLoaderData<typeof loader>();
  const items = NAV.filter((i) => i.role === "agent" || user.role === "admin");
  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-white focus:p-2"
      >
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <Link to="/admin" className="text-lg font-semibold text-slate-900">
            Heed admin
          </Link>
          <div className="flex flex-wrap items-center gap-3 text-sm">
            <Link to="/admin/account" className="text-slate-700 underline hover:text-slate-900">
              <span className="sr-only">Your account: </span>
              {user.email}
            </Link>
            <span className="rounded bg-slate-100 px-2 py-0.5 text-xs font-medium uppercase tracking-wide text-slate-700">
              {user.role}
            </span>
            <Form method="post" action="/admin/logout">
              <CsrfInput />
              <button
                type="submit"
                className="rounded-md border border-slate-400 px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100"
              >
                Log out
              </button>
            </Form>
          </div>
        </div>
        <nav aria-label="Admin" className="mx-auto max-w-6xl px-4">
          <ul className="-mb-px flex flex-wrap gap-x-1 text-sm">
            {items.map((item) => (
              <li key={item.to}>
                <NavLink
                  to={item.to}
                  className={({ isActive }) =>
                    `inline-block border-b-2 px-3 py-2 font-medium ${
                      isActive
                        ? "border-blue-700 text-blue-900"
                        : "border-transparent text-slate-700 hover:border-slate-400 hover:text-slate-900"
                    }`
                  }
                >
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" className="mx-auto max-w-6xl px-4 py-6">
        <Outlet />
      </main>
    </div>
  );
}

export function ErrorBoundary() {
  return (
    <main className="mx-auto max-w-6xl px-4 py-6">
      <AdminErrorBoundary />
    </main>
  );
}
