import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { requireUser } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  Notice,
  PageHeader,
  Pager,
  Time,
} from "~/admin/ui/components";
import { searchContacts, SEARCH_MAX_PAGE } from "~/contacts/contacts.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { adminPageTitle } from "~/admin/ui/i18n";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "nav.contacts", "Contacts") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const url = new URL(request.url);
  const q = (url.searchParams.get("q") ?? "").slice(0, 320);
  const pageParam = Number.parseInt(url.searchParams.get("page") ?? "1", 10);
  const page =
    Number.isFinite(pageParam) && pageParam > 0 ? Math.min(pageParam, SEARCH_MAX_PAGE) : 1;
  const result = await searchContacts(getDb(), q, { page });
  const deleted = url.searchParams.get("notice") === "deleted";
  return json({ q, deleted, ...result }, { headers: NO_STORE });
}

function pageUrl(q: string, page: number) {
  return `/admin/contacts?${new URLSearchParams({ q, page: String(page) })}`;
}

export default function Contacts() {
  const data = useLoaderData<typeof loader>();
  const { q, contacts, page, hasNext, address, deleted } = data;
  const t = useT("admin");
  return (
    <div>
      <PageHeader title={t("nav.contacts")} description={t("contacts.description")} />
      {deleted ? <Notice kind="success">{t("contacts.deleted")}</Notice> : null}
      <Form method="get" role="search" className="mb-6 flex flex-wrap gap-2">
        <label htmlFor="q" className="sr-only">
          {t("home.searchPlaceholder")}
        </label>
        <input
          id="q"
          name="q"
          type="search"
          defaultValue={q}
          placeholder={t("home.searchPlaceholder")}
          className={`${inputClass} min-w-0 flex-1`}
          maxLength={320}
        />
        <button type="submit" className={buttonClass.primary}>
          {t("contacts.search")}
        </button>
      </Form>

      {q && address ? (
        <Notice kind="info">
          <span>
            {address.kind === "email" ? t("contacts.looksLikeEmail") : t("contacts.looksLikePhone")}{" "}
            <strong>{address.value}</strong>.{" "}
          </span>
          <Link
            className={buttonClass.link}
            to={`/admin/suppressions?${new URLSearchParams({ address: address.value })}`}
          >
            {t("contacts.seeSuppressions")}
          </Link>{" "}
          {t("contacts.alsoWithoutContact")}
        </Notice>
      ) : null}

      {q ? (
        contacts.length === 0 ? (
          <p className="text-slate-700">{t("contacts.noMatch", { q })}</p>
        ) : (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
            <table className="min-w-full divide-y divide-slate-200 text-sm">
              <caption className="sr-only">{t("contacts.caption", { q })}</caption>
              <thead className="bg-slate-50 text-left text-slate-700">
                <tr>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("contacts.columns.email")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("contacts.columns.phone")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("contacts.columns.externalId")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("contacts.columns.locale")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("contacts.columns.created")}
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {contacts.map((c) => (
                  <tr key={c.id} className="hover:bg-slate-50">
                    <td className="px-3 py-2">
                      <Link
                        className="font-medium text-blue-800 underline"
                        to={`/admin/contacts/${c.id}`}
                      >
                        {c.email ?? c.externalId ?? c.phone ?? t("contacts.erasedName")}
                      </Link>
                      {c.erasedAt ? (
                        <span className="ml-2 text-xs text-slate-600">{t("contacts.erased")}</span>
                      ) : null}
                    </td>
                    <td className="px-3 py-2 text-slate-800">{c.phone ?? "—"}</td>
                    <td className="px-3 py-2 text-slate-800">{c.externalId ?? "—"}</td>
                    <td className="px-3 py-2 text-slate-800">{c.locale ?? "—"}</td>
                    <td className="px-3 py-2 text-slate-700">
                      <Time value={c.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : (
        <p className="text-slate-700">{t("contacts.typeSomething")}</p>
      )}
      {hasNext && page === SEARCH_MAX_PAGE - 1 ? (
        <p className="mt-3 text-sm text-slate-700">{t("contacts.manyMatch")}</p>
      ) : null}
      <Pager
        label={t("contacts.pagerLabel")}
        prev={page > 1 ? pageUrl(q, page - 1) : null}
        next={hasNext ? pageUrl(q, page + 1) : null}
      />
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
