import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { requireRole } from "~/admin/auth.server";
import { nsTitle } from "~/admin/ns-title";
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
import { i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "settings", "topics.title", "Topics") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const topics = await listTopics(getDb(), { includeArchived: true });
  const notice = new URL(request.url).searchParams.get("notice");
  return json(
    {
      topics,
      created: notice === "created" ? new URL(request.url).searchParams.get("key") : null,
      i18n: i18nPayload(negotiateLocale(request), ["settings"]),
    },
    { headers: NO_STORE },
  );
}

export default function Topics() {
  const { topics, created } = useLoaderData<typeof loader>();
  const t = useT("settings");
  const tc = useT("common");
  const locale = useLocale();
  return (
    <div>
      <PageHeader title={t("topics.title")} description={t("topics.description")}>
        <Link to="/admin/topics/new" className={buttonClass.primary}>
          {t("topics.new")}
        </Link>
      </PageHeader>
      {created ? <Notice kind="success">{t("topics.created", { key: created })}</Notice> : null}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{t("topics.title")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.order")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.name")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.key")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.channels")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.default")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.languages")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("topics.col.state")}
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {topics.map((topic) => (
              <tr key={topic.key}>
                <td className="px-3 py-2 text-slate-700">
                  {topic.position.toLocaleString(locale)}
                </td>
                <td className="px-3 py-2">
                  <Link
                    className="font-medium text-blue-800 underline"
                    to={`/admin/topics/${topic.key}`}
                  >
                    {topic.names[locale] ?? topic.names.en ?? topic.key}
                  </Link>
                </td>
                <td className="px-3 py-2">
                  <code>{topic.key}</code>
                </td>
                <td className="px-3 py-2">
                  {topic.channels.map((c) => tc(`channels.${c}`)).join(", ")}
                </td>
                <td className="px-3 py-2">
                  {topic.defaultOptIn ? t("topics.opted_in") : t("topics.opted_out")}
                </td>
                <td className="px-3 py-2 text-slate-700">{Object.keys(topic.names).join(", ")}</td>
                <td className="px-3 py-2">
                  <StatusBadge status={topic.archivedAt ? "archived" : "active"} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {topics.length === 0 ? <p className="p-4 text-slate-700">{t("topics.none")}</p> : null}
      </div>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
