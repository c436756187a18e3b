import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { requireRole } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  StatusBadge,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { listTopics } from "~/topics/topics.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Topics · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const topics = await listTopics(getDb(), { includeArchived: true });
  const notice = new URL(request.url).searchParams.get("notice");
  return json(
    { topics, created: notice === "created" ? new URL(request.url).searchParams.get("key") : null },
    { headers: NO_STORE },
  );
}

export default function Topics() {
  const { topics, created } = useLoaderData<typeof loader>();
  return (
    <div>
      <PageHeader
        title="Topics"
        description="The kinds of messages recipients can choose on the preference page."
      >
        <Link to="/admin/topics/new" className={buttonClass.primary}>
          New topic
        </Link>
      </PageHeader>
      {created ? <Notice kind="success">Topic “{created}” created.</Notice> : null}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">Topics</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                Order
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Name
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Key
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Channels
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Default
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Languages
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                State
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {topics.map((t) => (
              <tr key={t.key}>
                <td className="px-3 py-2 text-slate-700">{t.position}</td>
                <td className="px-3 py-2">
                  <Link
                    className="font-medium text-blue-800 underline"
                    to={`/admin/topics/${t.key}`}
                  >
                    {t.names.en ?? t.key}
                  </Link>
                </td>
                <td className="px-3 py-2">
                  <code>{t.key}</code>
                </td>
                <td className="px-3 py-2">{t.channels.join(", ")}</td>
                <td className="px-3 py-2">{t.defaultOptIn ? "opted in" : "opted out"}</td>
                <td className="px-3 py-2 text-slate-700">{Object.keys(t.names).join(", ")}</td>
                <td className="px-3 py-2">
                  <StatusBadge status={t.archivedAt ? "archived" : "active"} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {topics.length === 0 ? <p className="p-4 text-slate-700">No topics yet.</p> : null}
      </div>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
