import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useSearchParams } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { checked, formError, parseForm, text } from "~/admin/forms.server";
import { localizeSourceMessage, SOURCE_MESSAGES } from "~/admin/integration-messages.server";
import { localizeFailure } from "~/admin/messages.server";
import { nsTitle } from "~/admin/ns-title";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { NO_STORE } from "~/http/headers";
import type { Locale } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { MappingFormSchema, SourceFormSchema } from "~/sources/form";
import {
  deleteSource,
  getSourceView,
  listSourceRuns,
  previewDataSource,
  requestSourceRun,
  saveSourceMapping,
  updateSource,
} from "~/sources/sources.server";
import { RunStatusBadge, runState, SourceFields } from "~/sources/ui";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  {
    title: `${data?.source.name ?? "Data source"} · ${nsTitle(data, matches, "integrations", "sources.title", "Data sources")}`,
  },
];

function notFoundResponse(locale: Locale): Response {
  return new Response(getFixedT(locale, "integrations")("source.not_found"), { status: 404 });
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "integrations");
  const source = await getSourceView(db, params.id ?? "");
  if (!source) throw notFoundResponse(locale);
  const runs = await listSourceRuns(db, source.id, 30);
  return json(
    {
      source: {
        id: source.id,
        name: source.name,
        url: source.url,
        format: source.format,
        schedule: source.schedule,
        channel: source.channel,
        authType: source.auth_type,
        authName: source.auth_name,
        secretHint: source.secretHint,
        mapping: source.mapping,
        enabled: source.enabled,
        nextRunAt: source.next_run_at,
        runRequestedAt: source.run_requested_at,
      },
      runs: runs.map((r) => ({
        id: r.id,
        trigger: r.trigger,
        state: runState(r),
        startedAt: r.started_at,
        httpStatus: r.http_status,
        bytes: r.bytes,
        records: r.records,
        imported: r.imported,
        alreadySuppressed: r.already_suppressed,
        duplicates: r.duplicates,
        invalid: r.invalid,
        error:
          r.error || r.import_error ? localizeSourceMessage(t, (r.error ?? r.import_error)!) : null,
        importJobId: r.import_job_id,
      })),
      requireHttps: !getEnv().DATA_SOURCES_TEST_ALLOW_LOCAL,
      i18n: i18nPayload(locale, ["integrations"]),
    },
    { headers: NO_STORE },
  );
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const db = getDb();
  const id = params.id ?? "";
  const by = operator(user, request, context);
  const intent = text(formData, "intent");
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "integrations");
  const notFound = () => {
    throw notFoundResponse(locale);
  };

  if (intent === "preview") {
    const result = await previewDataSource(db, id, getEnv());
    if (!result) return notFound();
    if (!result.ok)
      return json({
        ok: false as const,
        kind: "preview",
        message: localizeSourceMessage(t, result.message),
        fieldErrors: {},
      });
    const wanted = text(formData, "list");
    const list =
      result.preview.lists.find((l) => l.records === wanted) ??
      result.preview.lists.find((l) => l.records === result.preview.suggested?.records) ??
      result.preview.lists[0]!;
    return json({ ok: true as const, kind: "preview", preview: result.preview, list });
  }
  if (intent === "mapping") {
    const parsed = parseForm(MappingFormSchema, {
      records: text(formData, "records"),
      delimiter: text(formData, "delimiter") || undefined,
      header: text(formData, "header") === "1",
      address: text(formData, "address"),
      channel: text(formData, "channel"),
      reason: text(formData, "reason"),
    });
    if (!parsed.ok) {
      const failure = localizeFailure(t, parsed, SOURCE_MESSAGES);
      return formError(failure.message, failure.fieldErrors);
    }
    const saved = await saveSourceMapping(db, id, parsed.data, by);
    if (!saved) return notFound();
    if (!saved.ok) {
      const message = localizeSourceMessage(t, saved.message);
      return formError(message, { [saved.field]: message });
    }
    return redirect(`/admin/sources/${id}?done=mapping`);
  }
  if (intent === "run") {
    if (!(await requestSourceRun(db, id, by))) {
      return formError(t("source.run_unmapped"));
    }
    return redirect(`/admin/sources/${id}?done=run`);
  }
  if (intent === "update") {
    const parsed = parseForm(SourceFormSchema, {
      name: text(formData, "name"),
      url: text(formData, "url"),
      format: text(formData, "format"),
      schedule: text(formData, "schedule"),
      channel: text(formData, "channel"),
      authType: text(formData, "authType"),
      authName: text(formData, "authName"),
      authSecret: text(formData, "authSecret"),
      enabled: checked(formData, "enabled"),
    });
    if (!parsed.ok) {
      const failure = localizeFailure(t, parsed, SOURCE_MESSAGES);
      return formError(failure.message, failure.fieldErrors);
    }
    const updated = await updateSource(db, id, parsed.data, getEnv(), by);
    if (!updated) return notFound();
    if (!updated.ok) {
      return formError(t("form.correct_fields"), {
        [updated.field]: localizeSourceMessage(t, updated.message),
      });
    }
    return redirect(`/admin/sources/${id}?done=update`);
  }
  if (intent === "delete") {
    if (!(await deleteSource(db, id, by))) return notFound();
    return redirect("/admin/sources");
  }
  return formError(t("form.unknown_action"));
}

/** Notices after a redirect (`?created=1`, `?done=…`): `integrations:source.done.*`. */
const DONE = new Set(["created", "mapping", "run", "update"]);

export default function DataSource() {
  const { source, runs, requireHttps } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const [params] = useSearchParams();
  const done = params.get("created") ? "created" : params.get("done");
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const preview = actionData && actionData.ok && actionData.kind === "preview" ? actionData : null;
  const t = useT("integrations");
  const tc = useT("common");
  const locale = useLocale();
  const n = (x: number | null) => (x === null ? "—" : x.toLocaleString(locale));

  return (
    <div>
      <PageHeader
        title={t("source.title", { name: source.name })}
        description={
          <span className="break-all">
            {source.format.toUpperCase()} · {source.url}
          </span>
        }
      >
        <Link to="/admin/sources" className={buttonClass.secondary}>
          {t("source.all")}
        </Link>
      </PageHeader>
      {done && DONE.has(done) && !actionData ? (
        <Notice kind="success">{t(`source.done.${done}`)}</Notice>
      ) : null}
      {actionData && !actionData.ok && !("kind" in actionData) ? (
        <Notice kind="error">{actionData.message}</Notice>
      ) : null}

      <Section
        title={t("source.overview")}
        id="overview"
        actions={
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="run" />
            <button type="submit" className={buttonClass.primary} disabled={!source.mapping}>
              {t("source.run_now")}
            </button>
          </Form>
        }
      >
        <dl className="grid gap-3 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-700">{t("sources.fields.schedule")}</dt>
            <dd className="font-medium text-slate-900">
              {t(`sources.schedules.${source.schedule}`)}
              {source.enabled ? "" : ` (${t("source.paused")})`}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">{t("sources.col.next_run")}</dt>
            <dd className="font-medium text-slate-900">
              {source.runRequestedAt ? (
                t("source.requested")
              ) : source.mapping && source.enabled ? (
                <Time value={source.nextRunAt} />
              ) : (
                "—"
              )}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">{t("sources.fields.channel")}</dt>
            <dd className="font-medium text-slate-900">
              {source.channel ? tc(`channels.${source.channel}`) : t("sources.fields.per_record")}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">{t("source.authorization")}</dt>
            <dd className="font-medium text-slate-900">
              {t(`sources.auth.${source.authType}`)}
              {source.secretHint ? (
                <span className="block font-mono text-xs font-normal">{source.secretHint}</span>
              ) : null}
            </dd>
          </div>
        </dl>
        {source.mapping ? (
          <p className="mt-3 text-sm text-slate-800">
            {t("source.mapping.address")}{" "}
            <code className="font-mono">{source.mapping.address}</code>
            {source.mapping.channel ? (
              <>
                , {t("source.mapping.channel")}{" "}
                <code className="font-mono">{source.mapping.channel}</code>
              </>
            ) : null}
            {source.mapping.reason ? (
              <>
                , {t("source.mapping.reason")}{" "}
                <code className="font-mono">{source.mapping.reason}</code>
              </>
            ) : null}
            {source.mapping.records ? (
              <>
                {" "}
                ({t("source.mapping.records")}{" "}
                <code className="font-mono">{source.mapping.records}</code>)
              </>
            ) : null}
            .
          </p>
        ) : (
          <Notice kind="info">{t("source.unmapped")}</Notice>
        )}
      </Section>

      <Section title={t("source.preview_title")} id="preview">
        <Form method="post" className="flex flex-wrap items-end gap-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="preview" />
          {preview && preview.preview.lists.length > 1 ? (
            <div>
              <label htmlFor="preview-list" className={labelClass}>
                {t("source.list")}
              </label>
              <select
                id="preview-list"
                name="list"
                defaultValue={preview.list.records}
                className={`mt-1 ${inputClass}`}
              >
                {preview.preview.lists.map((l) => (
                  <option key={l.records} value={l.records}>
                    {l.records || t("source.the_document")} ·{" "}
                    {t("source.records_count", {
                      count: l.count,
                      n: l.count.toLocaleString(locale),
                    })}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <button type="submit" className={buttonClass.secondary}>
            {preview ? t("source.fetch_again") : t("source.fetch")}
          </button>
        </Form>
        {actionData && !actionData.ok && "kind" in actionData ? (
          <p role="alert" className="mt-3 text-sm text-red-800">
            {t("source.preview_failed", { message: actionData.message })}
          </p>
        ) : null}
        {preview ? <MappingForm preview={preview} source={source} errors={errors} /> : null}
      </Section>

      <Section title={t("source.runs")} id="runs">
        <div className="relative overflow-x-auto">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("source.runs_caption")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("source.col.started")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("source.col.state")}
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  {t("source.col.records")}
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  {t("source.col.imported")}
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  {t("source.col.already")}
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  {t("source.col.errors")}
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {runs.length === 0 ? (
                <tr>
                  <td colSpan={6} className="px-3 py-4 text-slate-700">
                    {t("source.no_runs")}
                  </td>
                </tr>
              ) : null}
              {runs.map((r) => (
                <tr key={r.id} className="align-top" data-testid="source-run">
                  <td className="whitespace-nowrap px-3 py-2 text-slate-800">
                    <Time value={r.startedAt} />
                    <div className="text-xs text-slate-700">
                      {r.trigger === "manual" ? t("source.by_hand") : t("source.scheduled")}
                      {r.httpStatus ? ` · HTTP ${r.httpStatus}` : ""}
                    </div>
                  </td>
                  <td className="px-3 py-2">
                    <RunStatusBadge status={r.state} />
                    {r.error ? (
                      <div className="mt-1 max-w-md text-xs text-red-800">{r.error}</div>
                    ) : null}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{n(r.records)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{n(r.imported)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{n(r.alreadySuppressed)}</td>
                  <td className="px-3 py-2 text-right tabular-nums">
                    {r.importJobId && (r.invalid ?? 0) > 0 ? (
                      <Link className={buttonClass.link} to={`/admin/imports/${r.importJobId}`}>
                        {n(r.invalid)}
                      </Link>
                    ) : (
                      n(r.invalid)
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>

      <Section title={t("source.settings")} id="settings">
        <Form method="post" className="grid max-w-3xl gap-4" key={source.url + source.schedule}>
          <CsrfInput />
          <input type="hidden" name="intent" value="update" />
          <SourceFields
            values={source}
            errors={errors}
            idPrefix="edit-source"
            requireHttps={requireHttps}
          />
          <label className="flex items-center gap-2 text-sm text-slate-800">
            <input
              type="checkbox"
              name="enabled"
              defaultChecked={source.enabled}
              className="h-4 w-4"
            />
            {t("source.enabled")}
          </label>
          <p className="text-xs text-slate-700">{t("source.new_url_hint")}</p>
          <div>
            <button type="submit" className={buttonClass.primary}>
              {t("source.save")}
            </button>
          </div>
        </Form>
        <Form method="post" className="mt-6 border-t border-slate-200 pt-4">
          <CsrfInput />
          <input type="hidden" name="intent" value="delete" />
          <button type="submit" className={buttonClass.danger}>
            {t("source.delete")}
          </button>
          <p className="mt-1 text-xs text-slate-700">{t("source.delete_hint")}</p>
        </Form>
      </Section>
    </div>
  );
}

type PreviewData = {
  preview: {
    format: string;
    delimiter?: string;
    header?: boolean;
    encoding?: string;
    suggested: {
      records: string;
      address: string;
      channel: string | null;
      reason: string | null;
    } | null;
  };
  list: { records: string; count: number; fields: string[]; sample: Record<string, string>[] };
};

function MappingForm({
  preview,
  source,
  errors,
}: {
  preview: PreviewData;
  source: {
    channel: string | null;
    mapping: { address: string; channel: string | null; reason: string | null } | null;
  };
  errors: Record<string, string>;
}) {
  const { list } = preview;
  const t = useT("integrations");
  const locale = useLocale();
  const delimiter =
    preview.preview.delimiter === "\t" ? t("source.tab") : preview.preview.delimiter;
  const guess =
    source.mapping && list.fields.includes(source.mapping.address)
      ? source.mapping
      : preview.preview.suggested?.records === list.records
        ? preview.preview.suggested
        : null;
  const fieldOptions = list.fields.map((f) => (
    <option key={f} value={f}>
      {f}
    </option>
  ));
  return (
    <div className="mt-4">
      <p className="text-sm text-slate-800">
        {t("source.records_count", { count: list.count, n: list.count.toLocaleString(locale) })}
        {list.records ? (
          <>
            {" "}
            {t("source.records_in")} <code className="font-mono">{list.records}</code>
          </>
        ) : null}
        {preview.preview.format === "csv"
          ? ` · ${preview.preview.encoding ?? "utf-8"} · ${t("source.delimiter", { delimiter })} · ${preview.preview.header ? t("source.header_row") : t("source.no_header_row")}`
          : ""}
        . {t("source.first_ones")}
      </p>
      <div className="relative mt-2 overflow-x-auto rounded border border-slate-200">
        <table className="min-w-full divide-y divide-slate-200 text-xs">
          <caption className="sr-only">{t("source.sample_caption")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              {list.fields.map((f) => (
                <th key={f} scope="col" className="px-2 py-1 font-mono font-medium">
                  {f}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {list.sample.map((r, i) => (
              <tr key={i}>
                {list.fields.map((f) => (
                  <td key={f} className="max-w-xs truncate px-2 py-1 text-slate-800">
                    {r[f]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Form method="post" className="mt-4 grid max-w-3xl gap-4 sm:grid-cols-3">
        <CsrfInput />
        <input type="hidden" name="intent" value="mapping" />
        <input type="hidden" name="records" value={list.records} />
        {preview.preview.format === "csv" ? (
          <>
            <input type="hidden" name="delimiter" value={preview.preview.delimiter ?? ","} />
            <input type="hidden" name="header" value={preview.preview.header ? "1" : "0"} />
          </>
        ) : null}
        <div>
          <label htmlFor="map-address" className={labelClass}>
            {t("source.address_field")}
          </label>
          <select
            id="map-address"
            name="address"
            required
            defaultValue={guess?.address ?? ""}
            aria-describedby="map-address-error"
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("source.choose")}</option>
            {fieldOptions}
          </select>
          <FieldError id="map-address-error" message={errors.address ?? errors.mapping} />
        </div>
        {source.channel === null ? (
          <div>
            <label htmlFor="map-channel" className={labelClass}>
              {t("source.channel_field")}
            </label>
            <select
              id="map-channel"
              name="channel"
              defaultValue={guess?.channel ?? ""}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("source.choose")}</option>
              {fieldOptions}
            </select>
          </div>
        ) : (
          <input type="hidden" name="channel" value="" />
        )}
        <div>
          <label htmlFor="map-reason" className={labelClass}>
            {t("source.reason_field")}
          </label>
          <select
            id="map-reason"
            name="reason"
            defaultValue={guess?.reason ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("source.none")}</option>
            {fieldOptions}
          </select>
        </div>
        <div className="sm:col-span-3">
          <button type="submit" className={buttonClass.primary}>
            {t("source.save_fields")}
          </button>
        </div>
      </Form>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
