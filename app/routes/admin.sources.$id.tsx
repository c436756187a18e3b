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
import { AUTH_LABEL, MappingFormSchema, SCHEDULE_LABEL, SourceFormSchema } from "~/sources/form";
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

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.source.name ?? "Data source"} · Data sources · Heed admin` },
];

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const source = await getSourceView(db, params.id ?? "");
  if (!source) throw new Response("There is no data source with this id.", { status: 404 });
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
        error: r.error ?? r.import_error,
        importJobId: r.import_job_id,
      })),
      requireHttps: !getEnv().DATA_SOURCES_TEST_ALLOW_LOCAL,
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
  const notFound = () => {
    throw new Response("There is no data source with this id.", { status: 404 });
  };

  if (intent === "preview") {
    const result = await previewDataSource(db, id, getEnv());
    if (!result) return notFound();
    if (!result.ok)
      return json({
        ok: false as const,
        kind: "preview",
        message: result.message,
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
    if (!parsed.ok) return formError(parsed.message, parsed.fieldErrors);
    const saved = await saveSourceMapping(db, id, parsed.data, by);
    if (!saved) return notFound();
    if (!saved.ok) return formError(saved.message, { [saved.field]: saved.message });
    return redirect(`/admin/sources/${id}?done=mapping`);
  }
  if (intent === "run") {
    if (!(await requestSourceRun(db, id, by))) {
      return formError("Choose the fields from a preview before running this source.");
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
    if (!parsed.ok) return formError(parsed.message, parsed.fieldErrors);
    const updated = await updateSource(db, id, parsed.data, getEnv(), by);
    if (!updated) return notFound();
    if (!updated.ok) {
      return formError("Please correct the fields marked below.", {
        [updated.field]: updated.message,
      });
    }
    return redirect(`/admin/sources/${id}?done=update`);
  }
  if (intent === "delete") {
    if (!(await deleteSource(db, id, by))) return notFound();
    return redirect("/admin/sources");
  }
  return formError("Unknown action.");
}

const DONE: Record<string, string> = {
  created: "Source added. Fetch a preview to choose which fields hold the addresses.",
  mapping: "Fields saved. The source runs on its schedule; a first run starts within a minute.",
  run: "Run requested: it starts within a few seconds. Reload this page to see it.",
  update: "Settings saved.",
};

export default function DataSource() {
  const { source, runs, requireHttps } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const [params] = useSearchParams();
  const done = params.get("created") ? "created" : params.get("done");
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const preview = actionData && actionData.ok && actionData.kind === "preview" ? actionData : null;
  const n = (x: number | null) => (x === null ? "—" : x.toLocaleString("en"));

  return (
    <div>
      <PageHeader
        title={`Data source: ${source.name}`}
        description={
          <span className="break-all">
            {source.format.toUpperCase()} · {source.url}
          </span>
        }
      >
        <Link to="/admin/sources" className={buttonClass.secondary}>
          All data sources
        </Link>
      </PageHeader>
      {done && DONE[done] && !actionData ? <Notice kind="success">{DONE[done]}</Notice> : null}
      {actionData && !actionData.ok && !("kind" in actionData) ? (
        <Notice kind="error">{actionData.message}</Notice>
      ) : null}

      <Section
        title="Overview"
        id="overview"
        actions={
          <Form method="post">
            <CsrfInput />
            <input type="hidden" name="intent" value="run" />
            <button type="submit" className={buttonClass.primary} disabled={!source.mapping}>
              Run now
            </button>
          </Form>
        }
      >
        <dl className="grid gap-3 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-700">Schedule</dt>
            <dd className="font-medium text-slate-900">
              {SCHEDULE_LABEL[source.schedule]}
              {source.enabled ? "" : " (paused)"}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">Next run</dt>
            <dd className="font-medium text-slate-900">
              {source.runRequestedAt ? (
                "Requested, starting"
              ) : source.mapping && source.enabled ? (
                <Time value={source.nextRunAt} />
              ) : (
                "—"
              )}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">Channel</dt>
            <dd className="font-medium text-slate-900">
              {source.channel ?? "Each record names its channel"}
            </dd>
          </div>
          <div>
            <dt className="text-slate-700">Authorization</dt>
            <dd className="font-medium text-slate-900">
              {AUTH_LABEL[source.authType]}
              {source.secretHint ? (
                <span className="block font-mono text-xs font-normal">{source.secretHint}</span>
              ) : null}
            </dd>
          </div>
        </dl>
        {source.mapping ? (
          <p className="mt-3 text-sm text-slate-800">
            Fields: address from <code className="font-mono">{source.mapping.address}</code>
            {source.mapping.channel ? (
              <>
                , channel from <code className="font-mono">{source.mapping.channel}</code>
              </>
            ) : null}
            {source.mapping.reason ? (
              <>
                , reason from <code className="font-mono">{source.mapping.reason}</code>
              </>
            ) : null}
            {source.mapping.records ? (
              <>
                {" "}
                (records: <code className="font-mono">{source.mapping.records}</code>)
              </>
            ) : null}
            .
          </p>
        ) : (
          <Notice kind="info">
            This source does not run until you choose its fields from a preview.
          </Notice>
        )}
      </Section>

      <Section title="Preview and fields" id="preview">
        <Form method="post" className="flex flex-wrap items-end gap-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="preview" />
          {preview && preview.preview.lists.length > 1 ? (
            <div>
              <label htmlFor="preview-list" className={labelClass}>
                List of records
              </label>
              <select
                id="preview-list"
                name="list"
                defaultValue={preview.list.records}
                className={`mt-1 ${inputClass}`}
              >
                {preview.preview.lists.map((l) => (
                  <option key={l.records} value={l.records}>
                    {l.records || "(the document)"} · {l.count.toLocaleString("en")} records
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <button type="submit" className={buttonClass.secondary}>
            {preview ? "Fetch again" : "Fetch a preview"}
          </button>
        </Form>
        {actionData && !actionData.ok && "kind" in actionData ? (
          <p className="mt-3 text-sm text-red-800">The preview failed: {actionData.message}</p>
        ) : null}
        {preview ? <MappingForm preview={preview} source={source} errors={errors} /> : null}
      </Section>

      <Section title="Runs" id="runs">
        <div className="relative overflow-x-auto">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">Runs of this source, newest first</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  Started
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  State
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  Records
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  Imported
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  Already suppressed
                </th>
                <th scope="col" className="px-3 py-2 text-right font-medium">
                  Errors
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {runs.length === 0 ? (
                <tr>
                  <td colSpan={6} className="px-3 py-4 text-slate-700">
                    No runs yet.
                  </td>
                </tr>
              ) : null}
              {runs.map((r) => (
                <tr key={r.id} className="align-top" data-testid="source-run">
                  <td className="whitespace-nowrap px-3 py-2 text-slate-800">
                    <Time value={r.startedAt} />
                    <div className="text-xs text-slate-700">
                      {r.trigger === "manual" ? "by hand" : "scheduled"}
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

      <Section title="Settings" id="settings">
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
            Run on its schedule
          </label>
          <p className="text-xs text-slate-700">
            A new URL or format forgets the chosen fields: choose them again from a preview.
          </p>
          <div>
            <button type="submit" className={buttonClass.primary}>
              Save settings
            </button>
          </div>
        </Form>
        <Form method="post" className="mt-6 border-t border-slate-200 pt-4">
          <CsrfInput />
          <input type="hidden" name="intent" value="delete" />
          <button type="submit" className={buttonClass.danger}>
            Delete this source
          </button>
          <p className="mt-1 text-xs text-slate-700">
            Its runs go with it; the suppressions it imported stay.
          </p>
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
        {list.count.toLocaleString("en")} records
        {list.records ? (
          <>
            {" "}
            in <code className="font-mono">{list.records}</code>
          </>
        ) : null}
        {preview.preview.format === "csv"
          ? ` · ${preview.preview.encoding ?? "utf-8"} · delimiter “${preview.preview.delimiter === "\t" ? "tab" : preview.preview.delimiter}” · ${preview.preview.header ? "first row names the columns" : "no header row"}`
          : ""}
        . The first ones:
      </p>
      <div className="relative mt-2 overflow-x-auto rounded border border-slate-200">
        <table className="min-w-full divide-y divide-slate-200 text-xs">
          <caption className="sr-only">A sample of the fetched records</caption>
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
            Address field
          </label>
          <select
            id="map-address"
            name="address"
            required
            defaultValue={guess?.address ?? ""}
            aria-describedby="map-address-error"
            className={`mt-1 ${inputClass}`}
          >
            <option value="">Choose…</option>
            {fieldOptions}
          </select>
          <FieldError id="map-address-error" message={errors.address ?? errors.mapping} />
        </div>
        {source.channel === null ? (
          <div>
            <label htmlFor="map-channel" className={labelClass}>
              Channel field
            </label>
            <select
              id="map-channel"
              name="channel"
              defaultValue={guess?.channel ?? ""}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">Choose…</option>
              {fieldOptions}
            </select>
          </div>
        ) : (
          <input type="hidden" name="channel" value="" />
        )}
        <div>
          <label htmlFor="map-reason" className={labelClass}>
            Reason field (optional)
          </label>
          <select
            id="map-reason"
            name="reason"
            defaultValue={guess?.reason ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">None</option>
            {fieldOptions}
          </select>
        </div>
        <div className="sm:col-span-3">
          <button type="submit" className={buttonClass.primary}>
            Save fields
          </button>
        </div>
      </Form>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
