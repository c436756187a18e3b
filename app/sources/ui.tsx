import { FieldError, hintClass, inputClass, labelClass } from "~/admin/ui/components";
import { AUTH_LABEL, SCHEDULE_LABEL } from "~/sources/form";

/** The settings fields of a data source (the add form and the edit form). */
export type SourceFormValues = {
  name: string;
  url: string;
  format: string;
  schedule: string;
  channel: string | null;
  authType: string;
  authName: string | null;
  secretHint?: string | null;
  enabled?: boolean;
};

export function SourceFields({
  values,
  errors,
  idPrefix,
  requireHttps,
}: {
  values?: SourceFormValues;
  errors: Record<string, string>;
  idPrefix: string;
  requireHttps: boolean;
}) {
  const id = (n: string) => `${idPrefix}-${n}`;
  return (
    <>
      <div>
        <label htmlFor={id("name")} className={labelClass}>
          Name
        </label>
        <input
          id={id("name")}
          name="name"
          required
          maxLength={100}
          defaultValue={values?.name}
          placeholder="Mailkit suppressions"
          aria-describedby={id("name-error")}
          className={`mt-1 ${inputClass}`}
        />
        <FieldError id={id("name-error")} message={errors.name} />
      </div>
      <div>
        <label htmlFor={id("url")} className={labelClass}>
          URL
        </label>
        <input
          id={id("url")}
          name="url"
          type="url"
          required
          autoComplete="off"
          defaultValue={values?.url}
          placeholder="https://example.com/suppressions.csv"
          aria-describedby={`${id("url-hint")} ${id("url-error")}`}
          className={`mt-1 ${inputClass}`}
        />
        <p id={id("url-hint")} className={hintClass}>
          {requireHttps ? "Must be https://. " : ""}Addresses that resolve to private, loopback or
          link-local networks are refused, and so is every redirect to one.
        </p>
        <FieldError id={id("url-error")} message={errors.url} />
      </div>
      <div className="grid gap-4 sm:grid-cols-3">
        <div>
          <label htmlFor={id("format")} className={labelClass}>
            Format
          </label>
          <select
            id={id("format")}
            name="format"
            defaultValue={values?.format ?? "csv"}
            className={`mt-1 ${inputClass}`}
          >
            <option value="csv">CSV</option>
            <option value="json">JSON</option>
            <option value="xml">XML</option>
          </select>
        </div>
        <div>
          <label htmlFor={id("schedule")} className={labelClass}>
            Schedule
          </label>
          <select
            id={id("schedule")}
            name="schedule"
            defaultValue={values?.schedule ?? "daily"}
            className={`mt-1 ${inputClass}`}
          >
            {Object.entries(SCHEDULE_LABEL).map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={id("channel")} className={labelClass}>
            Channel
          </label>
          <select
            id={id("channel")}
            name="channel"
            defaultValue={values ? (values.channel ?? "per_record") : "email"}
            className={`mt-1 ${inputClass}`}
          >
            <option value="email">Email</option>
            <option value="sms">SMS</option>
            <option value="whatsapp">WhatsApp</option>
            <option value="per_record">Each record names its channel</option>
          </select>
        </div>
      </div>
      <fieldset className="grid gap-4 sm:grid-cols-3">
        <legend className={`${labelClass} mb-1`}>Authorization (optional)</legend>
        <div>
          <label htmlFor={id("authType")} className={labelClass}>
            Type
          </label>
          <select
            id={id("authType")}
            name="authType"
            defaultValue={values?.authType ?? "none"}
            className={`mt-1 ${inputClass}`}
          >
            {Object.entries(AUTH_LABEL).map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={id("authName")} className={labelClass}>
            User name or header name
          </label>
          <input
            id={id("authName")}
            name="authName"
            autoComplete="off"
            defaultValue={values?.authName ?? ""}
            placeholder="X-Api-Key"
            aria-describedby={id("authName-error")}
            className={`mt-1 ${inputClass}`}
          />
          <FieldError id={id("authName-error")} message={errors.authName} />
        </div>
        <div>
          <label htmlFor={id("authSecret")} className={labelClass}>
            Password, token or header value
          </label>
          <input
            id={id("authSecret")}
            name="authSecret"
            type="password"
            autoComplete="new-password"
            aria-describedby={`${id("authSecret-hint")} ${id("authSecret-error")}`}
            className={`mt-1 ${inputClass}`}
          />
          <p id={id("authSecret-hint")} className={hintClass}>
            {values?.secretHint
              ? `Stored: ${values.secretHint}. Leave empty to keep it.`
              : "Stored to fetch the list; never shown again."}
          </p>
          <FieldError id={id("authSecret-error")} message={errors.authSecret} />
        </div>
      </fieldset>
    </>
  );
}

const RUN_STATUS: Record<string, { label: string; className: string }> = {
  fetching: { label: "Fetching", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  queued: { label: "Importing", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  running: { label: "Importing", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  completed: { label: "Completed", className: "bg-green-100 text-green-900 ring-green-300" },
  failed: { label: "Failed", className: "bg-red-100 text-red-900 ring-red-300" },
};

/** A run's state: its fetch's, then its import job's. */
export function runState(run: { status: string; import_status: string | null }): string {
  if (run.status === "imported") return run.import_status ?? "completed";
  return run.status;
}

export function RunStatusBadge({ status }: { status: string }) {
  const s = RUN_STATUS[status] ?? {
    label: status,
    className: "bg-slate-100 text-slate-800 ring-slate-300",
  };
  return (
    <span
      data-status={status}
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${s.className}`}
    >
      {s.label}
    </span>
  );
}
