import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { operator, requireRole, requireSession } from "~/admin/auth.server";
import { provenanceProblem, verifyCsrfToken } from "~/admin/csrf.server";
import { formError, parseForm } from "~/admin/forms.server";
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
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { importLimits, importsDir, listImportJobs, uploadImport } from "~/imports/jobs.server";
import { ImportFileError } from "~/imports/read.server";
import { DEFAULT_IMPORT_NOTE } from "~/imports/schema";
import { ImportStatusBadge } from "~/imports/ui";
import { discardUpload, receiveImportUpload, type ReceivedUpload } from "~/imports/upload.server";
import { NO_STORE, TEXT_NO_STORE } from "~/http/headers";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";

export const meta: MetaFunction = () => [{ title: "Imports · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const jobs = await listImportJobs(getDb(), 50);
  return json(
    {
      cancelled: new URL(request.url).searchParams.get("cancelled") === "1",
      // The edge refused an upload over its cap before reading it (app/http/input-guard.server.ts).
      refused: new URL(request.url).searchParams.get("refused") === "too_large",
      // The import pages speak the operator's browser language (the rest of the admin area is English).
      i18n: i18nPayload(negotiateLocale(request), ["imports"]),
      maxFileMb: getEnv().IMPORT_MAX_FILE_MB,
      jobs: jobs.map((j) => ({
        id: j.id,
        fileName: j.file_name,
        format: j.format,
        status: j.status,
        channel: j.channel,
        createdAt: j.created_at,
        createdBy: j.created_by_email,
        rowsRead: j.rows_read,
        imported: j.imported,
        alreadySuppressed: j.already_suppressed,
        invalid: j.invalid,
      })),
    },
    { headers: NO_STORE },
  );
}

const FormSchema = z.object({
  channel: z.enum(["email", "sms", "whatsapp", "file"], "Pick a channel."),
  addressColumn: z.string().trim().max(100, "At most 100 characters.").optional(),
  reasonColumn: z.string().trim().max(100, "At most 100 characters.").optional(),
  note: z.string().trim().max(500, "At most 500 characters.").optional(),
});

export async function action({ request, context }: ActionFunctionArgs) {
  // The file must stream to disk, so the CSRF token comes first in the body (the form's first
  // field) and is checked before a byte of the file is written; the browser's provenance before
  // a byte of the body is read. Never in the URL (docs/decisions/0092-csrf-token-first-in-the-upload.md).
  const { user, session } = await requireSession(request, "admin");
  const problem = provenanceProblem(request);
  if (problem) {
    throw new Response(`Forbidden: ${problem}.`, { status: 403, headers: TEXT_NO_STORE });
  }
  const env = getEnv();
  const limits = importLimits(env);
  const t = getFixedT(negotiateLocale(request), "imports");
  let upload: ReceivedUpload | null = null;
  try {
    upload = await receiveImportUpload(request, {
      dir: importsDir(env),
      maxBytes: limits.maxFileBytes,
      checkToken: (token) => verifyCsrfToken(request, token, session),
    });
    const parsed = parseForm(FormSchema, upload.fields);
    if (!parsed.ok) {
      await discardUpload(upload);
      return formError(parsed.message, parsed.fieldErrors);
    }
    if (!upload.file) {
      return formError(t("upload.not_imported"), { file: t("upload.choose_file") });
    }
    const job = await uploadImport(
      getDb(),
      {
        id: upload.id,
        file: upload.file,
        channel: parsed.data.channel === "file" ? null : parsed.data.channel,
        addressColumn: parsed.data.addressColumn,
        reasonColumn: parsed.data.reasonColumn,
        note: parsed.data.note,
        limits,
      },
      operator(user, request, context),
    );
    return redirect(`/admin/imports/${job.id}`);
  } catch (e) {
    await discardUpload(upload);
    if (e instanceof ImportFileError) {
      return formError(
        t("upload.not_imported"),
        { file: e.message },
        /too large/.test(e.message) ? 413 : 400,
      );
    }
    throw e;
  }
}

export default function Imports() {
  const { jobs, maxFileMb, cancelled, refused } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT("imports");
  const tc = useT("common");
  const locale = useLocale();
  const errors: Record<string, string> = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const described = (name: string, hint?: string) =>
    [errors[name] ? `${name}-error` : null, hint].filter(Boolean).join(" ") || undefined;
  const n = (x: number) => x.toLocaleString(locale);
  return (
    <div>
      <PageHeader title={t("title")} description={t("description")}>
        <Link to="/admin/phone-numbers" className={buttonClass.secondary}>
          {t("phone_link")}
        </Link>
        <Link to="/admin/exports" className={buttonClass.secondary}>
          {t("export_link")}
        </Link>
      </PageHeader>

      {cancelled ? <Notice kind="success">{t("preview.cancelled")}</Notice> : null}
      <Section title={t("upload.title")} id="upload">
        {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
        {refused && !actionData ? (
          <Notice kind="error">
            {t("upload.not_imported")} {t("upload.too_large", { mb: maxFileMb })}
          </Notice>
        ) : null}
        <Form
          method="post"
          encType="multipart/form-data"
          action="/admin/imports?index"
          replace
          className="grid gap-4 md:grid-cols-2"
        >
          {/* The token first: the action checks it before it writes a byte of the file. */}
          <CsrfInput />
          <div className="md:col-span-2">
            <label htmlFor="file" className={labelClass}>
              {t("upload.file_label", { mb: maxFileMb })}
            </label>
            <input
              id="file"
              name="file"
              type="file"
              required
              accept=".csv,.txt,.xlsx,.ods,.xls,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.oasis.opendocument.spreadsheet,application/vnd.ms-excel"
              aria-describedby={described("file", "file-hint")}
              aria-invalid={errors.file ? true : undefined}
              className="mt-1 block w-full text-sm text-slate-900 file:mr-3 file:rounded-md file:border file:border-slate-400 file:bg-white file:px-3 file:py-2 file:text-sm file:font-medium file:text-slate-800 hover:file:bg-slate-100"
            />
            <p id="file-hint" className={hintClass}>
              {t("upload.file_hint")}
            </p>
            <FieldError id="file-error" message={errors.file} />
          </div>
          <div>
            <label htmlFor="channel" className={labelClass}>
              {t("upload.channel")}
            </label>
            <select
              id="channel"
              name="channel"
              defaultValue="email"
              aria-describedby={described("channel", "channel-hint")}
              className={`mt-1 ${inputClass}`}
            >
              <option value="email">{tc("channels.email")}</option>
              <option value="sms">{tc("channels.sms")}</option>
              <option value="whatsapp">{tc("channels.whatsapp")}</option>
              <option value="file">{t("upload.channel_file")}</option>
            </select>
            <p id="channel-hint" className={hintClass}>
              {t("upload.channel_hint")}
            </p>
            <FieldError id="channel-error" message={errors.channel} />
          </div>
          <div>
            <label htmlFor="note" className={labelClass}>
              {t("upload.note")}
            </label>
            <input
              id="note"
              name="note"
              maxLength={500}
              placeholder={DEFAULT_IMPORT_NOTE}
              aria-describedby={described("note", "note-hint")}
              className={`mt-1 ${inputClass}`}
            />
            <p id="note-hint" className={hintClass}>
              {t("upload.note_hint", { note: DEFAULT_IMPORT_NOTE })}
            </p>
            <FieldError id="note-error" message={errors.note} />
          </div>
          <div>
            <label htmlFor="addressColumn" className={labelClass}>
              {t("upload.address_column")}
            </label>
            <input
              id="addressColumn"
              name="addressColumn"
              maxLength={100}
              placeholder={t("upload.detect")}
              aria-describedby={described("addressColumn", "addressColumn-hint")}
              className={`mt-1 ${inputClass}`}
            />
            <p id="addressColumn-hint" className={hintClass}>
              {t("upload.address_column_hint")}
            </p>
            <FieldError id="addressColumn-error" message={errors.addressColumn} />
          </div>
          <div>
            <label htmlFor="reasonColumn" className={labelClass}>
              {t("upload.reason_column")}
            </label>
            <input
              id="reasonColumn"
              name="reasonColumn"
              maxLength={100}
              placeholder={t("upload.detect")}
              aria-describedby={described("reasonColumn", "reasonColumn-hint")}
              className={`mt-1 ${inputClass}`}
            />
            <p id="reasonColumn-hint" className={hintClass}>
              {t("upload.reason_column_hint")}
            </p>
            <FieldError id="reasonColumn-error" message={errors.reasonColumn} />
          </div>
          <div className="md:col-span-2">
            <button type="submit" className={buttonClass.primary} disabled={busy}>
              {busy ? t("upload.submitting") : t("upload.submit")}
            </button>
          </div>
        </Form>
      </Section>

      <Section title={t("recent.title")} id="recent">
        {jobs.length === 0 ? (
          <p className="text-sm text-slate-700">{t("recent.none")}</p>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full divide-y divide-slate-200 text-sm">
              <caption className="sr-only">{t("recent.title")}</caption>
              <thead className="bg-slate-50 text-left text-slate-700">
                <tr>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("recent.file")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("recent.state")}
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    {t("recent.rows")}
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    {t("recent.imported")}
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    {t("recent.already")}
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    {t("recent.invalid")}
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    {t("recent.when")}
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {jobs.map((j) => (
                  <tr key={j.id}>
                    <td className="max-w-xs px-3 py-2 break-all">
                      <Link to={`/admin/imports/${j.id}`} className={buttonClass.link}>
                        {j.fileName}
                      </Link>
                      <span className="block text-xs text-slate-600">
                        {j.format.toUpperCase()} ·{" "}
                        {j.channel ? tc(`channels.${j.channel}`) : t("recent.per_row")}
                        {j.createdBy ? ` · ${j.createdBy}` : ""}
                      </span>
                    </td>
                    <td className="px-3 py-2">
                      <ImportStatusBadge status={j.status} label={t(`status.${j.status}`)} />
                    </td>
                    <td className="px-3 py-2 text-right tabular-nums">{n(j.rowsRead)}</td>
                    <td className="px-3 py-2 text-right tabular-nums">{n(j.imported)}</td>
                    <td className="px-3 py-2 text-right tabular-nums">{n(j.alreadySuppressed)}</td>
                    <td className="px-3 py-2 text-right tabular-nums">{n(j.invalid)}</td>
                    <td className="whitespace-nowrap px-3 py-2 text-slate-700">
                      <Time value={j.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
