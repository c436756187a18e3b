import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect } from "react";
import { requireRole } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { getImportJob, listImportErrors } from "~/imports/jobs.server";
import { ERROR_LABEL, ImportStatusBadge } from "~/imports/ui";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.job.fileName ?? "Import"} · Imports · Heed admin` },
];

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const job = await getImportJob(db, params.id ?? "");
  if (!job) throw new Response("There is no import with this id.", { status: 404 });
  const errors = job.invalid > 0 ? await listImportErrors(db, job.id, 20) : [];
  return json(
    {
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

const PHASE_TEXT: Record<string, string> = {
  waiting: "Waiting for a worker to start the import…",
  checking: "Checking the whole file before importing…",
  importing: "Importing…",
  done: "",
};

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export default function ImportProgress() {
  const { job, errors } = useLoaderData<typeof loader>();
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
  const n = (x: number) => x.toLocaleString("en");

  return (
    <div>
      {active ? (
        <noscript>
          <meta httpEquiv="refresh" content="2" />
        </noscript>
      ) : null}
      <PageHeader
        title={`Import: ${job.fileName}`}
        description={`${job.format.toUpperCase()} · ${formatBytes(job.fileSize)}`}
      >
        <Link to="/admin/imports" className={buttonClass.secondary}>
          All imports
        </Link>
      </PageHeader>

      {job.status === "failed" ? (
        <Notice kind="error">
          <strong>The import failed.</strong> {job.error}
        </Notice>
      ) : null}
      {nothingChanged ? (
        <Notice kind="info">
          Nothing changed: every valid address in this file was already suppressed.
        </Notice>
      ) : job.status === "completed" ? (
        <Notice kind="success">
          Done: {n(job.imported)} {job.imported === 1 ? "address" : "addresses"} suppressed.
        </Notice>
      ) : null}

      <Section title="Progress" id="progress" actions={<ImportStatusBadge status={job.status} />}>
        <div aria-live="polite">
          <div className="flex items-baseline justify-between gap-2 text-sm text-slate-800">
            <span>
              {active ? PHASE_TEXT[job.phase] : job.status === "completed" ? "Finished" : "Stopped"}
            </span>
            <span className="tabular-nums">
              {job.phase === "checking" || job.status === "queued"
                ? ""
                : job.status === "completed"
                  ? `100% · ${n(job.rowsRead)} rows`
                  : `${percent}%${total ? ` · ${n(job.rowsRead)} of about ${n(total)} rows` : ""}`}
            </span>
          </div>
          <progress
            className="mt-2 h-3 w-full overflow-hidden rounded-full [&::-moz-progress-bar]:bg-blue-700 [&::-webkit-progress-bar]:bg-slate-200 [&::-webkit-progress-value]:bg-blue-700"
            aria-label="Rows imported"
            max={max}
            value={job.phase === "checking" || job.status === "queued" ? undefined : value}
          />
        </div>
        <dl className="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-5">
          <Count label="Rows read" value={job.rowsRead} name="rows_read" />
          <Count label="Imported" value={job.imported} name="imported" />
          <Count
            label="Already suppressed"
            value={job.alreadySuppressed}
            name="already_suppressed"
          />
          <Count label="Repeated in the file" value={job.duplicates} name="duplicates" />
          <Count label="Invalid" value={job.invalid} name="invalid" />
        </dl>
      </Section>

      <Section
        title="Error report"
        id="errors"
        actions={
          job.invalid > 0 ? (
            <a
              href={`/admin/imports/${job.id}/errors.csv`}
              className={buttonClass.secondary}
              download
            >
              Download error report (CSV)
            </a>
          ) : null
        }
      >
        {job.invalid === 0 ? (
          <p className="text-sm text-slate-700">
            {active ? "No invalid rows so far." : "No invalid rows."}
          </p>
        ) : (
          <>
            <p className="mb-2 text-sm text-slate-700">
              {job.invalid > errors.length
                ? `The first ${errors.length} of ${n(job.invalid)} invalid rows; the report lists them all.`
                : "These rows were not imported:"}
            </p>
            <div className="overflow-x-auto">
              <table className="min-w-full divide-y divide-slate-200 text-sm">
                <caption className="sr-only">Invalid rows</caption>
                <thead className="bg-slate-50 text-left text-slate-700">
                  <tr>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Line
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Value
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Why
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
                          <span className="text-slate-600">(empty)</span>
                        )}
                      </td>
                      <td className="px-3 py-1.5">{ERROR_LABEL[e.reason] ?? e.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Section>

      <Section title="Details" id="details">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">Channel</dt>
          <dd>{job.channel ?? `per row, from the “${job.columns.channel ?? "channel"}” column`}</dd>
          <dt className="font-medium text-slate-700">Address column</dt>
          <dd>
            {job.columns.address}
            {job.header ? "" : " (the file has no header row)"}
          </dd>
          <dt className="font-medium text-slate-700">Reason column</dt>
          <dd>{job.columns.reason ?? "none"}</dd>
          <dt className="font-medium text-slate-700">Note</dt>
          <dd className="break-words">{job.note}</dd>
          <dt className="font-medium text-slate-700">Uploaded</dt>
          <dd>
            <Time value={job.createdAt} />
          </dd>
          <dt className="font-medium text-slate-700">Finished</dt>
          <dd>
            <Time value={job.finishedAt} />
          </dd>
          {job.attempts > 1 ? (
            <>
              <dt className="font-medium text-slate-700">Resumed</dt>
              <dd>
                {job.attempts - 1} time(s), after an interruption, from the last committed batch
              </dd>
            </>
          ) : null}
        </dl>
      </Section>
    </div>
  );
}

function Count({ label, value, name }: { label: string; value: number; name: string }) {
  return (
    <div className="rounded-md border border-slate-200 p-3">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-700">{label}</dt>
      <dd className="mt-1 text-xl font-semibold tabular-nums text-slate-900" data-count={name}>
        {value.toLocaleString("en")}
      </dd>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
