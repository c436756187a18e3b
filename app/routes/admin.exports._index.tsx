import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { useEffect, useRef, useState } from "react";
import { requireRole } from "~/admin/auth.server";
import { fieldErrorsOf } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { sourceLabel } from "~/consent/labels";
import { CONSENT_SOURCES } from "~/db/schema";
import { UNDELIVERABLE_SOURCE } from "~/email/constants";
import { EXPORT_QUERY_KEYS, EXPORT_STARTED_COOKIE, ExportQuery } from "~/exports/filter";
import { suppressionCounts } from "~/exports/suppressions.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Export suppressions · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const url = new URL(request.url);
  // The download route sends a bad filter back here (?error=1&...) so the form can show why.
  const values = Object.fromEntries(
    EXPORT_QUERY_KEYS.map((k) => [k, (url.searchParams.get(k) ?? "").slice(0, 40)]),
  );
  const parsed = ExportQuery.safeParse(values);
  const fieldErrors =
    url.searchParams.has("error") && !parsed.success ? fieldErrorsOf(parsed.error) : {};
  return json(
    { counts: await suppressionCounts(getDb()), values, fieldErrors },
    { headers: NO_STORE },
  );
}

type DownloadState = "idle" | "preparing" | "started";

/**
 * The download's progress. A download does not navigate, so without this nothing shows that
 * the export is being prepared: on submit the button says so (and is not pressed twice), and the
 * route answers with a cookie holding this submit's random id as soon as the file starts.
 * Without JavaScript the form simply downloads.
 */
function useDownloadProgress() {
  const [state, setState] = useState<DownloadState>("idle");
  const [progress, setProgress] = useState("");
  const timer = useRef<ReturnType<typeof setInterval> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearInterval(timer.current);
    },
    [],
  );
  const start = () => {
    const id = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) =>
      (b % 36).toString(36),
    ).join("");
    setProgress(id);
    setState("preparing");
    const began = Date.now();
    if (timer.current) clearInterval(timer.current);
    timer.current = setInterval(() => {
      const done = document.cookie.split("; ").some((c) => c === `${EXPORT_STARTED_COOKIE}=${id}`);
      // Two minutes without a start: the download failed or was refused; let them try again.
      if (done || Date.now() - began > 120_000) {
        if (timer.current) clearInterval(timer.current);
        timer.current = null;
        setState(done ? "started" : "idle");
      }
    }, 250);
    return id;
  };
  return { state, progress, start };
}

export default function Exports() {
  const { counts, values, fieldErrors } = useLoaderData<typeof loader>();
  const total = counts.email + counts.sms + counts.whatsapp;
  const hasErrors = Object.keys(fieldErrors).length > 0;
  const download = useDownloadProgress();
  const formRef = useRef<HTMLFormElement>(null);
  return (
    <div>
      <PageHeader
        title="Export suppressions"
        description="Download the suppressed addresses as CSV (address, channel, date, source, reason, the person's own words, campaign, operator's note, ASCII address), streamed straight from the database."
      >
        <Link to="/admin/imports" className={buttonClass.secondary}>
          Import suppressions
        </Link>
      </PageHeader>
      <Section title="Suppressed now" id="counts">
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
          {(
            [
              ["All channels", total],
              ["Email", counts.email],
              ["SMS", counts.sms],
              ["WhatsApp", counts.whatsapp],
            ] as const
          ).map(([label, n]) => (
            <div key={label} className="rounded-md border border-slate-200 p-3">
              <dt className="text-xs font-medium uppercase tracking-wide text-slate-700">
                {label}
              </dt>
              <dd className="mt-1 text-xl font-semibold tabular-nums text-slate-900">
                {n.toLocaleString("en")}
              </dd>
            </div>
          ))}
        </dl>
        <p className={hintClass}>
          Erased addresses are kept only as a keyed hash and are not exported.
        </p>
      </Section>
      <Section title="Download" id="download">
        {hasErrors ? <Notice kind="error">Please correct the fields marked below.</Notice> : null}
        <Form
          ref={formRef}
          method="get"
          action="/admin/exports/suppressions.csv"
          reloadDocument
          className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4"
          onSubmit={(e) => {
            if (download.state === "preparing") {
              e.preventDefault();
              return;
            }
            const id = download.start();
            // The id goes with this very submit (state updates render only after it).
            const input = formRef.current?.elements.namedItem("progress");
            if (input instanceof HTMLInputElement) input.value = id;
          }}
        >
          <input type="hidden" name="progress" value={download.progress} />
          <div>
            <label htmlFor="channel" className={labelClass}>
              Channel
            </label>
            <select
              id="channel"
              name="channel"
              defaultValue={values.channel}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">All channels</option>
              <option value="email">Email</option>
              <option value="sms">SMS</option>
              <option value="whatsapp">WhatsApp</option>
            </select>
          </div>
          <div>
            <label htmlFor="source" className={labelClass}>
              Source
            </label>
            <select
              id="source"
              name="source"
              defaultValue={values.source}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">Any source</option>
              {[...CONSENT_SOURCES, UNDELIVERABLE_SOURCE].map((s) => (
                <option key={s} value={s}>
                  {sourceLabel(s)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="from" className={labelClass}>
              Suppressed from
            </label>
            <input
              id="from"
              name="from"
              type="date"
              defaultValue={values.from}
              aria-describedby={fieldErrors.from ? "from-error" : "dates-hint"}
              aria-invalid={fieldErrors.from ? true : undefined}
              className={`mt-1 ${inputClass}`}
            />
            <FieldError id="from-error" message={fieldErrors.from} />
          </div>
          <div>
            <label htmlFor="to" className={labelClass}>
              Suppressed until
            </label>
            <input
              id="to"
              name="to"
              type="date"
              defaultValue={values.to}
              aria-describedby={fieldErrors.to ? "to-error" : "dates-hint"}
              aria-invalid={fieldErrors.to ? true : undefined}
              className={`mt-1 ${inputClass}`}
            />
            <FieldError id="to-error" message={fieldErrors.to} />
          </div>
          <p id="dates-hint" className={`${hintClass} sm:col-span-2 lg:col-span-4`}>
            Dates are whole days in UTC, both included. Leave them empty for everything.
          </p>
          <fieldset className="sm:col-span-2 lg:col-span-4" aria-describedby="separator-hint">
            <legend className={labelClass}>Separator</legend>
            <div className="mt-1 flex flex-wrap gap-x-6 gap-y-2 text-sm">
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="separator"
                  value="comma"
                  defaultChecked={values.separator !== "semicolon"}
                  className="h-4 w-4"
                />
                Comma ( , )
              </label>
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="separator"
                  value="semicolon"
                  defaultChecked={values.separator === "semicolon"}
                  className="h-4 w-4"
                />
                Semicolon ( ; ) for Excel in Czech, German, French, Polish, Spanish or Portuguese
              </label>
            </div>
            <p id="separator-hint" className={hintClass}>
              The file is UTF-8 with a byte order mark, so accents open right in Excel.
              Internationalized domains are shown readable (müller.de); the last column,
              address_ascii, has the form mail systems use (xn--mller-kva.de).
            </p>
          </fieldset>
          <div className="flex flex-wrap items-center gap-3 sm:col-span-2 lg:col-span-4">
            <button
              type="submit"
              className={buttonClass.primary}
              aria-disabled={download.state === "preparing" ? true : undefined}
              aria-describedby="download-status"
            >
              {download.state === "preparing" ? (
                <span className="inline-flex items-center gap-2">
                  <span
                    aria-hidden="true"
                    className="h-4 w-4 animate-spin rounded-full border-2 border-white border-t-transparent"
                  />
                  Preparing the CSV…
                </span>
              ) : (
                "Download CSV"
              )}
            </button>
            <p id="download-status" role="status" aria-live="polite" className="text-sm">
              {download.state === "preparing"
                ? "Preparing the export. The download starts in a moment."
                : download.state === "started"
                  ? "The download has started: the file is saved by your browser."
                  : ""}
            </p>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
