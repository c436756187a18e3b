import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import { AdminErrorBoundary, buttonClass, inputClass, PageHeader } from "~/admin/ui/components";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  return json({ role: user.role, name: user.name ?? user.email }, { headers: NO_STORE });
}

export default function AdminHome() {
  const { role, name } = useLoaderData<typeof loader>();
  return (
    <div className="max-w-3xl">
      <PageHeader title="Admin" description={`Signed in as ${name}.`} />
      <Form method="get" action="/admin/contacts" role="search" className="flex flex-wrap gap-2">
        <label htmlFor="home-q" className="sr-only">
          Search contacts by email, phone or external id
        </label>
        <input
          id="home-q"
          name="q"
          type="search"
          placeholder="Email, phone or external id"
          className={`${inputClass} min-w-0 flex-1`}
        />
        <button type="submit" className={buttonClass.primary}>
          Search contacts
        </button>
      </Form>
      <ul className="mt-8 grid gap-3 sm:grid-cols-2">
        <HomeLink to="/admin/contacts" title="Contacts">
          Find a person; see each channel&apos;s state and the full history.
        </HomeLink>
        <HomeLink to="/admin/suppressions" title="Suppressions">
          Suppress any address on one channel or all, with a note.
        </HomeLink>
        <HomeLink to="/admin/reports" title="Reports">
          Unsubscribes per campaign, channel and topic; reasons; alerts.
        </HomeLink>
        {role === "admin" ? (
          <>
            <HomeLink to="/admin/imports" title="Imports">
              Bulk-import suppressions from CSV, XLSX or ODS.
            </HomeLink>
            <HomeLink to="/admin/exports" title="Exports">
              Download the suppressed addresses as CSV.
            </HomeLink>
            <HomeLink to="/admin/topics" title="Topics">
              Create, rename, translate and archive topics.
            </HomeLink>
            <HomeLink to="/admin/reasons" title="Unsubscribe reasons">
              Order, translate, enable and disable reasons.
            </HomeLink>
            <HomeLink to="/admin/branding" title="Branding">
              Name, logo, colour and links on recipient pages.
            </HomeLink>
            <HomeLink to="/admin/users" title="Users">
              Create users, change roles, disable accounts.
            </HomeLink>
            <HomeLink to="/admin/audit" title="Audit log">
              Every operator action: who, what, when, from where.
            </HomeLink>
          </>
        ) : null}
      </ul>
    </div>
  );
}

function HomeLink({
  to,
  title,
  children,
}: {
  to: string;
  title: string;
  children: string | string[];
}) {
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
