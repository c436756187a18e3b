import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { requireSession } from "~/admin/auth.server";
import { csrfTokenFor } from "~/admin/csrf.server";
import { AdminErrorBoundary } from "~/admin/ui/components";
import { adminI18nPayload } from "~/admin/locale.server";
import { CsrfInput, type AdminLayoutData } from "~/admin/ui/layout";
import { NO_STORE } from "~/http/headers";
import { negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { adminTitle } from "~/admin/ui/i18n";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: adminTitle(data?.i18n, "title") },
];

/** Every admin page (the child routes inherit this): operators' data is never cached. */
export const headers = () => NO_STORE;

/**
 * The admin layout: navigation, the signed-in user, the CSRF token for forms. It authorizes too,
 * but every child route authorizes its own loader and action (requireRole / requireAction).
 *
 * Its `i18n` payload (the `admin` namespace, the source labels and the reasons as recipients read
 * them, in the negotiated locale) reaches every page below it: the root layout merges it with the
 * page's own payload (useRouteI18nPayload), so shared admin components call `useT("admin")` and
 * pages add only their own namespaces (docs/admin-languages.md).
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const { user, session } = await requireSession(request, "agent");
  const data: AdminLayoutData = {
    user,
    csrfToken: csrfTokenFor(session),
    i18n: adminI18nPayload(negotiateLocale(request)),
  };
  return json(data, { headers: NO_STORE });
}

type NavItem = { to: string; key: string; role: "agent" | "admin" };

/** The labels are `admin:nav.<key>`. */
const NAV: NavItem[] = [
  { to: "/admin/contacts", key: "contacts", role: "agent" },
  { to: "/admin/suppressions", key: "suppressions", role: "agent" },
  { to: "/admin/sms/review", key: "smsReview", role: "agent" },
  { to: "/admin/imports", key: "imports", role: "admin" },
  { to: "/admin/sources", key: "sources", role: "admin" },
  { to: "/admin/exports", key: "exports", role: "admin" },
  { to: "/admin/reports", key: "reports", role: "agent" },
  { to: "/admin/topics", key: "topics", role: "admin" },
  { to: "/admin/reasons", key: "reasons", role: "admin" },
  { to: "/admin/frequency", key: "frequency", role: "admin" },
  { to: "/admin/branding", key: "branding", role: "admin" },
  { to: "/admin/phone-numbers", key: "phoneNumbers", role: "admin" },
  { to: "/admin/users", key: "users", role: "admin" },
  { to: "/admin/api-keys", key: "apiKeys", role: "admin" },
  { to: "/admin/webhooks", key: "webhooks", role: "admin" },
  { to: "/admin/email", key: "email", role: "admin" },
  { to: "/admin/outbox", key: "outbox", role: "admin" },
  { to: "/admin/audit", key: "audit", role: "admin" },
  { to: "/admin/ledger", key: "ledger", role: "admin" },
];

export default function AdminLayout() {
  const { user } = useLoaderData<typeof loader>();
  const t = useT("admin");
  const items = NAV.filter((i) => i.role === "agent" || user.role === "admin");
  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-white focus:p-2"
      >
        {t("layout.skipToContent")}
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <Link to="/admin" className="text-lg font-semibold text-slate-900">
            {t("title")}
          </Link>
          <div className="flex flex-wrap items-center gap-3 text-sm">
            <Link to="/admin/account" className="text-slate-700 underline hover:text-slate-900">
              <span className="sr-only">{t("layout.yourAccount")} </span>
              {user.email}
            </Link>
            <span className="rounded bg-slate-100 px-2 py-0.5 text-xs font-medium uppercase tracking-wide text-slate-700">
              {t(`roles.${user.role}`)}
            </span>
            <Form method="post" action="/admin/logout">
              <CsrfInput />
              <button
                type="submit"
                className="rounded-md border border-slate-400 px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100"
              >
                {t("layout.logOut")}
              </button>
            </Form>
          </div>
        </div>
        <nav aria-label={t("layout.navLabel")} className="mx-auto max-w-6xl px-4">
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
                  {t(`nav.${item.key}`)}
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
