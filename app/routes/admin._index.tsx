import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import { AdminErrorBoundary, buttonClass, inputClass, PageHeader } from "~/admin/ui/components";
import { adminPayloadOf, adminTitle } from "~/admin/ui/i18n";
import { NO_STORE } from "~/http/headers";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [{ title: adminTitle(adminPayloadOf(matches)) }];

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  return json({ role: user.role, name: user.name ?? user.email }, { headers: NO_STORE });
}

export default function AdminHome() {
  const { role, name } = useLoaderData<typeof loader>();
  const t = useT("admin");
  const nav = (key: string) => t(`nav.${key}`);
  const text = (key: string) => t(`home.links.${key}`);
  return (
    <div className="max-w-3xl">
      <PageHeader title={t("home.title")} description={t("home.signedInAs", { name })} />
      <Form method="get" action="/admin/contacts" role="search" className="flex flex-wrap gap-2">
        <label htmlFor="home-q" className="sr-only">
          {t("home.searchLabel")}
        </label>
        <input
          id="home-q"
          name="q"
          type="search"
          placeholder={t("home.searchPlaceholder")}
          className={`${inputClass} min-w-0 flex-1`}
        />
        <button type="submit" className={buttonClass.primary}>
          {t("home.search")}
        </button>
      </Form>
      <ul className="mt-8 grid gap-3 sm:grid-cols-2">
        <HomeLink to="/admin/contacts" title={nav("contacts")}>
          {text("contacts")}
        </HomeLink>
        <HomeLink to="/admin/suppressions" title={nav("suppressions")}>
          {text("suppressions")}
        </HomeLink>
        <HomeLink to="/admin/reports" title={nav("reports")}>
          {text("reports")}
        </HomeLink>
        {role === "admin" ? (
          <>
            <HomeLink to="/admin/imports" title={nav("imports")}>
              {text("imports")}
            </HomeLink>
            <HomeLink to="/admin/exports" title={nav("exports")}>
              {text("exports")}
            </HomeLink>
            <HomeLink to="/admin/topics" title={nav("topics")}>
              {text("topics")}
            </HomeLink>
            <HomeLink to="/admin/reasons" title={t("home.reasonsTitle")}>
              {text("reasons")}
            </HomeLink>
            <HomeLink to="/admin/branding" title={nav("branding")}>
              {text("branding")}
            </HomeLink>
            <HomeLink to="/admin/users" title={nav("users")}>
              {text("users")}
            </HomeLink>
            <HomeLink to="/admin/audit" title={nav("audit")}>
              {text("audit")}
            </HomeLink>
          </>
        ) : null}
      </ul>
    </div>
  );
}

function HomeLink({ to, title, children }: { to: string; title: string; children: string }) {
  return (
    <li>
      <Link
        to={to}
        className="block h-full rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-blue-400"
      >
        <span className="font-semibold text-blue-900">{title}</span>
        <span className="mt-1 block text-sm text-slate-700">{children}</span>
      </Link>
    </li>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
