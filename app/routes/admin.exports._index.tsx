import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
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
import { ExportQuery } from "~/exports/filter";
import { suppressionCounts } from "~/exports/suppressions.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Export suppressions · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const url = new URL(request.url);
  // The download route sends a bad filter back here (?error=1&...) so the form can show why.
  const values = Object.fromEntries(
    ["channel", "source", "from", "to"].map((k) => [
      k,
      (url.searchParams.get(k) ?? "").slice(0, 40),
    ]),
  );
  const parsed = ExportQuery.safeParse(values);
  const fieldErrors =
    url.searchParams.has("error") && !parsed.success ? fieldErrorsOf(parsed.error) : {};
  return json(
    { counts: await suppressionCounts(getDb()), values, fieldErrors },
    { headers: NO_STORE },
  );
}

export default function Exports() {
  const { counts, values, fieldErrors } = useLoaderData<typeof loader>();
  const total = counts.email + counts.sms + counts.whatsapp;
  const hasErrors = Object.keys(fieldErrors).length > 0;
  return (
    <div>
      <PageHeader
        title="Export suppressions"
        description="Download the suppressed addresses as CSV (address, channel, date, source, reason, free-text reason, campaign, note), streamed straight from the database."
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
          method="get"
          action="/admin/exports/suppressions.csv"
          reloadDocument
          className="grid gap-4 sm:grid-cols-2 lg:grid-cols-5"
        >
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
          <div className="flex items-end">
            <button type="submit" className={buttonClass.primary}>
              Download CSV
            </button>
          </div>
          <p id="dates-hint" className={`${hintClass} sm:col-span-2 lg:col-span-5`}>
            Dates are whole days in UTC, both included. Leave them empty for everything.
          </p>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
