import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Link, useActionData, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect } from "react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import {
  cancelImport,
  confirmImport,
  getImportJob,
  listImportErrors,
  previewImport,
  remapImport,
} from "~/imports/jobs.server";
import { ImportPreview, type PreviewData } from "~/imports/preview";
import { ImportFileError } from "~/imports/read.server";
import { IMPORT_ENCODINGS } from "~/imports/schema";
import { ERROR_LABEL, ImportStatusBadge } from "~/imports/ui";
import { NO_STORE } from "~/http/headers";
import { useLocale, useT } from "~/i18n/react";
import { callingCode } from "~/settings/phone-region.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  {
    title: `${(data?.kind === "preview" ? data.preview.fileName : data?.job.fileName) ?? "Import"} · Imports · Heed admin`,
  },
];

const Column = z
  .string()
  .regex(/^\d{1,3}$/)
  .transform(Number);
const RemapSchema = z.object({
  addressColumn: Column,
  reasonColumn: z.union([Column, z.literal("").transform(() => null)]),
  channelColumn: z.union([Column, z.literal("").transform(() => null)]),
  channel: z.enum(["email", "sms", "whatsapp", "file"]),
  encoding: z.enum(IMPORT_ENCODINGS).optional(),
  header: z.literal("on").optional(),
});

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const db = getDb();
  const env = getEnv();
  const id = params.id ?? "";
  const t = getFixedT(negotiateLocale(request), "imports");
  const by = operator(user, request, context);
  const intent = formData.get("intent");
  try {
    if (intent === "confirm") {
      const job = await confirmImport(db, id, by);
      if (!job) return formError(t("preview.gone"), {}, 409);
      return redirect(`/admin/imports/${job.id}`);
    }
    if (intent === "cancel") {
      await cancelImport(db, id, env, by);
      return redirect("/admin/imports?cancelled=1");
    }
    if (intent === "remap") {
      const parsed = RemapSchema.safeParse(Object.fromEntries(formData));
      if (!parsed.success) return formError(t("upload.not_imported"), {}, 400);
      const d = parsed.data;
      const job = await remapImport(
        db,
        id,
        {
          addressColumn: d.addressColumn,
          reasonColumn: d.reasonColumn,
          channelColumn: d.channelColumn,
          channel: d.channel === "file" ? null : d.channel,
          header: d.header === "on",
          encoding: d.encoding ?? null,
        },
        env,
      );
      if (!job) return formError(t("preview.gone"), {}, 409);
      return redirect(`/admin/imports/${job.id}`);
    }
  } catch (e) {
    if (e instanceof ImportFileError) return formError(e.message, {}, 400);
    throw e;
  }
  return formError("Unknown action.", {}, 400);
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const job = await getImportJob(db, params.id ?? "");
  if (!job) throw new Response("There is no import with this id.", { status: 404 });
  const i18n = i18nPayload(negotiateLocale(request), ["imports"]);
  if (job.status === "draft") {
    const p = await previewImport(db, job.id, getEnv());
    if (p) {
      const m = p.job.options;
      const preview: PreviewData = {
        id: p.job.id,
        fileName: p.job.file_name,
        format: p.job.format,
        fileSize: p.job.file_size,
        channel: p.job.channel,
        fileAvailable: p.fileAvailable,
        fileHost: p.job.file_host,
        mapping: {
          header: m.header,
          addressColumn: m.addressColumn,
          channelColumn: m.channelColumn,
          reasonColumn: m.reasonColumn,
          delimiter: m.delimiter ?? null,
          encoding: m.encoding ?? null,
          detectedEncoding: m.detectedEncoding ?? null,
          unconfirmedAddress: m.unconfirmedAddress ?? false,
        },
        headerRow: p.headerRow,
        width: p.width,
        rows: p.rows,
        counts: p.counts,
        phoneRegion: p.phoneRegion,
        phoneCode: p.phoneRegion ? callingCode(p.phoneRegion) : "",
        problem: p.problem,
      };
      return json({ kind: "preview" as const, i18n, preview }, { headers: NO_STORE });
    }
  }
  const errors = job.invalid > 0 ? await listImportErrors(db, job.id, 20) : [];
  return json(
    {
      kind: "job" as const,
      i18n,
      job: {
        id: job.id,
        fileName: job.file_name,
        format: job.format,
        fileSize: job.file_size,
        channel: job.channel,
        note: job.note,
        columns: job.options.labels,
        header: job.options.header,
        status: job.status,
        phase: job.phase,
        totalRows: job.total_rows,
        rowsRead: job.rows_read,
        imported: job.imported,
        alreadySuppressed: job.already_suppressed,
        duplicates: job.duplicates,
        invalid: job.invalid,
        reasonsAdded: job.reasons_added,
        encoding: job.options.encoding ?? null,
        error: job.error,
        attempts: job.attempts,
        createdAt: job.created_at,
        startedAt: job.started_at,
        finishedAt: job.finished_at,
      },
      errors: errors.map((e) => ({ line: Number(e.line), value: e.value, reason: e.reason })),
    },
    { headers: NO_STORE },
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export default function ImportPage() {
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  if (data.kind === "preview") {
    return (
      <ImportPreview
        preview={data.preview}
        error={actionData && !actionData.ok ? actionData.message : null}
      />
    );
  }
  return <ImportProgress job={data.job} errors={data.errors} />;
}

type JobData = Extract<ReturnType<typeof useLoaderData<typeof loader>>, { kind: "job" }>;

function ImportProgress({ job, errors }: Pick<JobData, "job" | "errors">) {
  const t = useT("imports");
  const tc = useT("common");
  const locale = useLocale();
  const active = job.status === "queued" || job.status === "running";
  const revalidator = useRevalidator();
  // With JavaScript: poll the loader while the job runs. Without: the <noscript> refresh below.
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (revalidator.state === "idle" && document.visibilityState === "visible")
        revalidator.revalidate();
    }, 1000);
    return () => clearInterval(timer);
  }, [active, revalidator]);

  const total = job.totalRows ?? 0;
  const max =
    job.status === "completed" ? Math.max(job.rowsRead, 1) : Math.max(total, job.rowsRead, 1);
  const value = job.status === "completed" ? max : Math.min(job.rowsRead, max);
  const percent = Math.floor((value / max) * 100);
  const nothingChanged = job.status === "completed" && job.imported === 0;
  const n = (x: number) => x.toLocaleString(locale);
  const phaseText: Record<string, string> = {
    waiting: t("job.waiting"),
    checking: t("job.checking"),
    importing: t("job.importing"),
    done: "",
  };

  return (
    <div>
      {active ? (
        <noscript>
          <meta httpEquiv="refresh" content="2" />
        </noscript>
      ) : null}
      <PageHeader
        title={t("job.title", { file: job.fileName })}
        description={`${job.format.toUpperCase()} · ${formatBytes(job.fileSize)}`}
      >
        <Link to="/admin/imports" className={buttonClass.secondary}>
          {t("job.all")}
        </Link>
      </PageHeader>

      {job.status === "failed" ? (
        <Notice kind="error">
          <strong>{t("job.failed")}</strong> {job.error}
        </Notice>
      ) : null}
      {nothingChanged ? (
        <Notice kind="info">{t("job.nothing_changed")}</Notice>
      ) : job.status === "completed" ? (
        <Notice kind="success">{t("job.done", { count: n(job.imported) })}</Notice>
      ) : null}

      <Section
        title={t("job.progress")}
        id="progress"
        actions={<ImportStatusBadge status={job.status} label={t(`status.${job.status}`)} />}
      >
        <div aria-live="polite">
          <div className="flex items-baseline justify-between gap-2 text-sm text-slate-800">
            <span>
              {active
                ? phaseText[job.phase]
                : job.status === "completed"
                  ? t("job.finished")
                  : t("job.stopped")}
            </span>
            <span className="tabular-nums">
              {job.phase === "checking" || job.status === "queued"
                ? ""
                : job.status === "completed"
                  ? t("job.rows_done", { rows: n(job.rowsRead) })
                  : total
                    ? t("job.rows_progress", { percent, rows: n(job.rowsRead), total: n(total) })
                    : `${percent} %`}
            </span>
          </div>
          <progress
            className="mt-2 h-3 w-full overflow-hidden rounded-full [&::-moz-progress-bar]:bg-blue-700 [&::-webkit-progress-bar]:bg-slate-200 [&::-webkit-progress-value]:bg-blue-700"
            aria-label={t("job.rows_label")}
            max={max}
            value={job.phase === "checking" || job.status === "queued" ? undefined : value}
          />
        </div>
        <dl className="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-5">
          <Count label={t("job.rows_read")} value={n(job.rowsRead)} name="rows_read" />
          <Count label={t("job.imported")} value={n(job.imported)} name="imported" />
          <Count
            label={t("job.already")}
            value={n(job.alreadySuppressed)}
            name="already_suppressed"
          />
          <Count label={t("job.duplicates")} value={n(job.duplicates)} name="duplicates" />
          <Count label={t("job.invalid")} value={n(job.invalid)} name="invalid" />
          {job.reasonsAdded > 0 ? (
            <Count
              label={t("job.reasons_added")}
              value={n(job.reasonsAdded)}
              name="reasons_added"
            />
          ) : null}
        </dl>
      </Section>

      <Section
        title={t("job.errors")}
        id="errors"
        actions={
          job.invalid > 0 ? (
            <a
              href={`/admin/imports/${job.id}/errors.csv`}
              className={buttonClass.secondary}
              download
            >
              {t("job.download")}
            </a>
          ) : null
        }
      >
        {job.invalid === 0 ? (
          <p className="text-sm text-slate-700">{active ? t("job.none_so_far") : t("job.none")}</p>
        ) : (
          <>
            <p className="mb-2 text-sm text-slate-700">
              {job.invalid > errors.length
                ? t("job.first_of", { shown: n(errors.length), total: n(job.invalid) })
                : t("job.not_imported")}
            </p>
            <div className="overflow-x-auto">
              <table className="min-w-full divide-y divide-slate-200 text-sm">
                <caption className="sr-only">{t("job.errors")}</caption>
                <thead className="bg-slate-50 text-left text-slate-700">
                  <tr>
                    <th scope="col" className="px-3 py-2 font-medium">
                      {t("job.line")}
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      {t("job.value")}
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      {t("job.why")}
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {errors.map((e) => (
                    <tr key={e.line}>
                      <td className="px-3 py-1.5 tabular-nums">{e.line}</td>
                      <td className="px-3 py-1.5 break-all">
                        {e.value ? (
                          <code>{e.value}</code>
                        ) : (
                          <span className="text-slate-600">{t("job.empty_value")}</span>
                        )}
                      </td>
                      <td className="px-3 py-1.5">
                        {ERROR_LABEL[e.reason] ? t(`errors.${e.reason}`) : e.reason}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Section>

      <Section title={t("job.details")} id="details">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">{t("job.channel")}</dt>
          <dd>
            {job.channel
              ? tc(`channels.${job.channel}`)
              : t("job.per_row", { column: job.columns.channel ?? "channel" })}
          </dd>
          <dt className="font-medium text-slate-700">{t("job.address_column")}</dt>
          <dd>
            {job.columns.address}
            {job.header ? "" : ` ${t("job.no_header")}`}
          </dd>
          <dt className="font-medium text-slate-700">{t("job.reason_column")}</dt>
          <dd>{job.columns.reason ?? t("job.no_reason")}</dd>
          {job.encoding ? (
            <>
              <dt className="font-medium text-slate-700">{t("job.encoding")}</dt>
              <dd>{job.encoding}</dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-700">{t("job.note")}</dt>
          <dd className="break-words">{job.note}</dd>
          <dt className="font-medium text-slate-700">{t("job.uploaded")}</dt>
          <dd>
            <Time value={job.createdAt} />
          </dd>
          <dt className="font-medium text-slate-700">{t("job.finished_at")}</dt>
          <dd>
            <Time value={job.finishedAt} />
          </dd>
          {job.attempts > 1 ? (
            <>
              <dt className="font-medium text-slate-700">{t("job.resumed")}</dt>
              <dd>{t("job.resumed_text", { count: job.attempts - 1 })}</dd>
            </>
          ) : null}
        </dl>
      </Section>
    </div>
  );
}

function Count({ label, value, name }: { label: string; value: string; name: string }) {
  return (
    <div className="rounded-md border border-slate-200 p-3">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-700">{label}</dt>
      <dd className="mt-1 text-xl font-semibold tabular-nums text-slate-900" data-count={name}>
        {value}
      </dd>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
