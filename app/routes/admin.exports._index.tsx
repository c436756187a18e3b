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
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { CONSENT_SOURCES } from "~/db/schema";
import { UNDELIVERABLE_SOURCE } from "~/email/constants";
import { EXPORT_QUERY_KEYS, EXPORT_STARTED_COOKIE, ExportQuery } from "~/exports/filter";
import { suppressionCounts } from "~/exports/suppressions.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Export suppressions") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "exports");
  const url = new URL(request.url);
  // The download route sends a bad filter back here (?error=1&...) so the form can show why.
  const values = Object.fromEntries(
    EXPORT_QUERY_KEYS.map((k) => [k, (url.searchParams.get(k) ?? "").slice(0, 40)]),
  );
  const parsed = ExportQuery.safeParse(values);
  // The filter's messages are codes (app/exports/filter.ts), said here in the operator's language.
  const fieldErrors = Object.fromEntries(
    Object.entries(
      url.searchParams.has("error") && !parsed.success ? fieldErrorsOf(parsed.error) : {},
    ).map(([field, code]) => [field, t(`error.${code}`, { defaultValue: t("error.invalid") })]),
  );
  return json(
    {
      i18n: i18nPayload(locale, ["exports", "labels"]),
      title: t("title"),
      counts: await suppressionCounts(getDb()),
      values,
      fieldErrors,
    },
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
  const t = useT("exports");
  const tc = useT("common");
  const tl = useT("labels");
  const locale = useLocale();
  const total = counts.email + counts.sms + counts.whatsapp;
  const hasErrors = Object.keys(fieldErrors).length > 0;
  const download = useDownloadProgress();
  const formRef = useRef<HTMLFormElement>(null);
  return (
    <div>
      <PageHeader title={t("title")} description={t("description")}>
        <Link to="/admin/imports" className={buttonClass.secondary}>
          {t("import_link")}
        </Link>
      </PageHeader>
      <Section title={t("counts.title")} id="counts">
        <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
          {(
            [
              [t("all_channels"), total],
              [tc("channels.email"), counts.email],
              [tc("channels.sms"), counts.sms],
              [tc("channels.whatsapp"), counts.whatsapp],
            ] as const
          ).map(([label, n]) => (
            <div key={label} className="rounded-md border border-slate-200 p-3">
              <dt className="text-xs font-medium uppercase tracking-wide text-slate-700">
                {label}
              </dt>
              <dd className="mt-1 text-xl font-semibold tabular-nums text-slate-900">
                {n.toLocaleString(locale)}
              </dd>
            </div>
          ))}
        </dl>
        <p className={hintClass}>{t("counts.erased")}</p>
      </Section>
      <Section title={t("download.title")} id="download">
        {hasErrors ? <Notice kind="error">{t("error.fix")}</Notice> : null}
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
              {t("download.channel")}
            </label>
            <select
              id="channel"
              name="channel"
              defaultValue={values.channel}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("all_channels")}</option>
              <option value="email">{tc("channels.email")}</option>
              <option value="sms">{tc("channels.sms")}</option>
              <option value="whatsapp">{tc("channels.whatsapp")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="source" className={labelClass}>
              {t("download.source")}
            </label>
            <select
              id="source"
              name="source"
              defaultValue={values.source}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("download.any_source")}</option>
              {[...CONSENT_SOURCES, UNDELIVERABLE_SOURCE].map((s) => (
                <option key={s} value={s}>
                  {tl(`sources.${s}`, { defaultValue: s.replace(/_/g, " ") })}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="from" className={labelClass}>
              {t("download.from")}
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
              {t("download.to")}
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
            {t("download.dates_hint")}
          </p>
          <fieldset className="sm:col-span-2 lg:col-span-4" aria-describedby="separator-hint">
            <legend className={labelClass}>{t("download.separator")}</legend>
            <div className="mt-1 flex flex-wrap gap-x-6 gap-y-2 text-sm">
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="separator"
                  value="comma"
                  defaultChecked={values.separator !== "semicolon"}
                  className="h-4 w-4"
                />
                {t("download.comma")}
              </label>
              <label className="flex items-center gap-2">
                <input
                  type="radio"
                  name="separator"
                  value="semicolon"
                  defaultChecked={values.separator === "semicolon"}
                  className="h-4 w-4"
                />
                {t("download.semicolon")}
              </label>
            </div>
            <p id="separator-hint" className={hintClass}>
              {t("download.separator_hint")}
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
                  {t("download.preparing_button")}
                </span>
              ) : (
                t("download.submit")
              )}
            </button>
            <p id="download-status" role="status" aria-live="polite" className="text-sm">
              {download.state === "preparing"
                ? t("download.preparing")
                : download.state === "started"
                  ? t("download.started")
                  : ""}
            </p>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
