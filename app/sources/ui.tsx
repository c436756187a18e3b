import { FieldError, hintClass, inputClass, labelClass } from "~/admin/ui/components";
import { useT } from "~/i18n/react";
import { SOURCE_AUTH_TYPES, SOURCE_SCHEDULES } from "~/sources/schema";

/**
 * The settings fields of a data source (the add form and the edit form), in the admin's language
 * (the `integrations` namespace, which the data source pages' loaders return).
 */
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
  const t = useT("integrations");
  const tc = useT("common");
  return (
    <>
      <div>
        <label htmlFor={id("name")} className={labelClass}>
          {t("sources.fields.name")}
        </label>
        <input
          id={id("name")}
          name="name"
          required
          maxLength={100}
          defaultValue={values?.name}
          placeholder={t("sources.fields.name_placeholder")}
          aria-describedby={id("name-error")}
          className={`mt-1 ${inputClass}`}
        />
        <FieldError id={id("name-error")} message={errors.name} />
      </div>
      <div>
        <label htmlFor={id("url")} className={labelClass}>
          {t("sources.fields.url")}
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
          {requireHttps ? `${t("sources.fields.https_only")} ` : ""}
          {t("sources.fields.url_hint")}
        </p>
        <FieldError id={id("url-error")} message={errors.url} />
      </div>
      <div className="grid gap-4 sm:grid-cols-3">
        <div>
          <label htmlFor={id("format")} className={labelClass}>
            {t("sources.fields.format")}
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
            {t("sources.fields.schedule")}
          </label>
          <select
            id={id("schedule")}
            name="schedule"
            defaultValue={values?.schedule ?? "daily"}
            className={`mt-1 ${inputClass}`}
          >
            {SOURCE_SCHEDULES.map((v) => (
              <option key={v} value={v}>
                {t(`sources.schedules.${v}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={id("channel")} className={labelClass}>
            {t("sources.fields.channel")}
          </label>
          <select
            id={id("channel")}
            name="channel"
            defaultValue={values ? (values.channel ?? "per_record") : "email"}
            className={`mt-1 ${inputClass}`}
          >
            <option value="email">{tc("channels.email")}</option>
            <option value="sms">{tc("channels.sms")}</option>
            <option value="whatsapp">{tc("channels.whatsapp")}</option>
            <option value="per_record">{t("sources.fields.per_record")}</option>
          </select>
        </div>
      </div>
      <fieldset className="grid gap-4 sm:grid-cols-3">
        <legend className={`${labelClass} mb-1`}>{t("sources.fields.auth")}</legend>
        <div>
          <label htmlFor={id("authType")} className={labelClass}>
            {t("sources.fields.auth_type")}
          </label>
          <select
            id={id("authType")}
            name="authType"
            defaultValue={values?.authType ?? "none"}
            className={`mt-1 ${inputClass}`}
          >
            {SOURCE_AUTH_TYPES.map((v) => (
              <option key={v} value={v}>
                {t(`sources.auth.${v}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={id("authName")} className={labelClass}>
            {t("sources.fields.auth_name")}
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
            {t("sources.fields.auth_secret")}
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
              ? t("sources.fields.secret_stored", { hint: values.secretHint })
              : t("sources.fields.secret_new")}
          </p>
          <FieldError id={id("authSecret-error")} message={errors.authSecret} />
        </div>
      </fieldset>
    </>
  );
}

/** Run states, labelled `integrations:sources.run_status.<label>`. */
const RUN_STATUS: Record<string, { label: string; className: string }> = {
  fetching: { label: "fetching", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  queued: { label: "importing", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  running: { label: "importing", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  completed: { label: "completed", className: "bg-green-100 text-green-900 ring-green-300" },
  failed: { label: "failed", className: "bg-red-100 text-red-900 ring-red-300" },
};

/** A run's state: its fetch's, then its import job's. */
export function runState(run: { status: string; import_status: string | null }): string {
  if (run.status === "imported") return run.import_status ?? "completed";
  return run.status;
}

export function RunStatusBadge({ status }: { status: string }) {
  const t = useT("integrations");
  const known = RUN_STATUS[status];
  const s = known
    ? { ...known, label: t(`sources.run_status.${known.label}`) }
    : { label: status, className: "bg-slate-100 text-slate-800 ring-slate-300" };
  return (
    <span
      data-status={status}
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${s.className}`}
    >
      {s.label}
    </span>
  );
}
