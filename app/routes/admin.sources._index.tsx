import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, parseForm, text } from "~/admin/forms.server";
import { localizeSourceMessage, SOURCE_MESSAGES } from "~/admin/integration-messages.server";
import { localizeFailure } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { NO_STORE } from "~/http/headers";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { SourceFormSchema } from "~/sources/form";
import { createSource, listSources } from "~/sources/sources.server";
import { RunStatusBadge, runState, SourceFields } from "~/sources/ui";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: nsTitle(data, matches, "integrations", "sources.title", "Data sources") },
];

/** Scheduled data sources (docs/admin.md): suppression lists fetched from a URL on a schedule. */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const sources = await listSources(getDb());
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "integrations");
  const runError = (e: string | null) => (e ? localizeSourceMessage(t, e) : null);
  return json(
    {
      sources: sources.map((s) => ({
        id: s.id,
        name: s.name,
        url: s.url,
        format: s.format,
        schedule: s.schedule,
        enabled: s.enabled,
        mapped: s.mapping !== null,
        nextRunAt: s.next_run_at,
        lastRun: s.lastRun
          ? {
              state: runState(s.lastRun),
              startedAt: s.lastRun.started_at,
              error: runError(s.lastRun.error ?? s.lastRun.import_error),
            }
          : null,
      })),
      requireHttps: !getEnv().DATA_SOURCES_TEST_ALLOW_LOCAL,
      i18n: i18nPayload(locale, ["integrations"]),
    },
    { headers: NO_STORE },
  );
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "integrations");
  if (text(formData, "intent") !== "create") return formError(t("form.unknown_action"));
  const parsed = parseForm(SourceFormSchema, {
    name: text(formData, "name"),
    url: text(formData, "url"),
    format: text(formData, "format"),
    schedule: text(formData, "schedule"),
    channel: text(formData, "channel"),
    authType: text(formData, "authType"),
    authName: text(formData, "authName"),
    authSecret: text(formData, "authSecret"),
  });
  if (!parsed.ok) {
    const failure = localizeFailure(t, parsed, SOURCE_MESSAGES);
    return formError(failure.message, failure.fieldErrors);
  }
  const created = await createSource(
    getDb(),
    parsed.data,
    getEnv(),
    operator(user, request, context),
  );
  if (!created.ok) {
    return formError(t("form.correct_fields"), {
      [created.field]: localizeSourceMessage(t, created.message),
    });
  }
  return redirect(`/admin/sources/${created.source.id}?created=1`);
}

export default function DataSources() {
  const { sources, requireHttps } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const t = useT("integrations");
  return (
    <div>
      <PageHeader title={t("sources.title")} description={t("sources.description")} />
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <div className="relative mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{t("sources.title")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("sources.col.source")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("sources.col.schedule")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("sources.col.last_run")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("sources.col.next_run")}
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {sources.length === 0 ? (
              <tr>
                <td colSpan={4} className="px-3 py-4 text-slate-700">
                  {t("sources.none")}
                </td>
              </tr>
            ) : null}
            {sources.map((s) => (
              <tr key={s.id} className="align-top">
                {/* Wide enough for a name on a phone (the table scrolls sideways instead). */}
                <td className="min-w-[11rem] px-3 py-2">
                  <Link className={buttonClass.link} to={`/admin/sources/${s.id}`}>
                    {s.name}
                  </Link>
                  <div className="break-all text-xs text-slate-700">
                    {s.format.toUpperCase()} · {s.url}
                  </div>
                </td>
                <td className="px-3 py-2 text-slate-800">
                  {t(`sources.schedules.${s.schedule}`)}
                  {!s.enabled ? (
                    <div className="text-xs text-slate-700">{t("sources.paused")}</div>
                  ) : null}
                </td>
                <td className="px-3 py-2">
                  {s.lastRun ? (
                    <>
                      <RunStatusBadge status={s.lastRun.state} />{" "}
                      <span className="text-slate-700">
                        <Time value={s.lastRun.startedAt} />
                      </span>
                      {s.lastRun.error ? (
                        <div className="mt-1 max-w-md text-xs text-red-800">{s.lastRun.error}</div>
                      ) : null}
                    </>
                  ) : (
                    <span className="text-slate-700">{t("sources.never")}</span>
                  )}
                </td>
                <td className="px-3 py-2 text-slate-700">
                  {!s.mapped ? (
                    t("sources.choose_fields_first")
                  ) : !s.enabled ? (
                    "—"
                  ) : (
                    <Time value={s.nextRunAt} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Section title={t("sources.add_title")} id="add-source">
        <Form method="post" className="grid max-w-3xl gap-4">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <SourceFields errors={errors} idPrefix="new-source" requireHttps={requireHttps} />
          <div>
            <button type="submit" className={buttonClass.primary}>
              {t("sources.add")}
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
