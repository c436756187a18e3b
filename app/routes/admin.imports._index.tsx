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
import { verifyCsrfToken } from "~/admin/csrf.server";
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
import { useAdminLayout } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { importLimits, importsDir, listImportJobs, uploadImport } from "~/imports/jobs.server";
import { ImportFileError } from "~/imports/read.server";
import { DEFAULT_IMPORT_NOTE } from "~/imports/schema";
import { ImportStatusBadge } from "~/imports/ui";
import { discardUpload, receiveImportUpload, type ReceivedUpload } from "~/imports/upload.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Imports · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const jobs = await listImportJobs(getDb(), 50);
  return json(
    {
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
  // The file must stream to disk, so the CSRF token comes in the query string (the form's action
  // URL) and is checked before a byte of the body is read.
  const { user, session } = await requireSession(request, "admin");
  verifyCsrfToken(request, new URL(request.url).searchParams.get("csrf"), session);
  const env = getEnv();
  const limits = importLimits(env);
  let upload: ReceivedUpload | null = null;
  try {
    upload = await receiveImportUpload(request, {
      dir: importsDir(env),
      maxBytes: limits.maxFileBytes,
    });
    const parsed = parseForm(FormSchema, upload.fields);
    if (!parsed.ok) {
      await discardUpload(upload);
      return formError(parsed.message, parsed.fieldErrors);
    }
    if (!upload.file) {
      return formError("The file was not imported.", {
        file: "Choose a CSV, XLSX or ODS file to upload.",
      });
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
        "The file was not imported.",
        { file: e.message },
        /too large/.test(e.message) ? 413 : 400,
      );
    }
    throw e;
  }
}

export default function Imports() {
  const { jobs, maxFileMb } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const csrf = useAdminLayout()?.csrfToken ?? "";
  const busy = useNavigation().state === "submitting";
  const errors: Record<string, string> = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const described = (name: string, hint?: string) =>
    [errors[name] ? `${name}-error` : null, hint].filter(Boolean).join(" ") || undefined;
  return (
    <div>
      <PageHeader
        title="Import suppressions"
        description="Unsubscribe every address of a CSV, XLSX or ODS file, for example when moving from another tool. Addresses that are already suppressed stay as they are; importing the same file again changes nothing."
      >
        <Link to="/admin/exports" className={buttonClass.secondary}>
          Export suppressions
        </Link>
      </PageHeader>

      <Section title="Upload a file" id="upload">
        {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
        <Form
          method="post"
          encType="multipart/form-data"
          action={`/admin/imports?index&csrf=${encodeURIComponent(csrf)}`}
          className="grid gap-4 md:grid-cols-2"
        >
          <div className="md:col-span-2">
            <label htmlFor="file" className={labelClass}>
              File (CSV, XLSX or ODS, at most {maxFileMb} MB)
            </label>
            <input
              id="file"
              name="file"
              type="file"
              required
              accept=".csv,.txt,.xlsx,.ods,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.oasis.opendocument.spreadsheet"
              aria-describedby={described("file", "file-hint")}
              aria-invalid={errors.file ? true : undefined}
              className="mt-1 block w-full text-sm text-slate-900 file:mr-3 file:rounded-md file:border file:border-slate-400 file:bg-white file:px-3 file:py-2 file:text-sm file:font-medium file:text-slate-800 hover:file:bg-slate-100"
            />
            <p id="file-hint" className={hintClass}>
              One address per row. The address column is found by its header (email, phone, address,
              …) or by its content; CSV files may use <code>,</code> or <code>;</code>.
            </p>
            <FieldError id="file-error" message={errors.file} />
          </div>
          <div>
            <label htmlFor="channel" className={labelClass}>
              Channel
            </label>
            <select
              id="channel"
              name="channel"
              defaultValue="email"
              aria-describedby={described("channel", "channel-hint")}
              className={`mt-1 ${inputClass}`}
            >
              <option value="email">Email</option>
              <option value="sms">SMS</option>
              <option value="whatsapp">WhatsApp</option>
              <option value="file">From the file&apos;s “channel” column</option>
            </select>
            <p id="channel-hint" className={hintClass}>
              With “from the file”, each row names its channel: email, sms or whatsapp.
            </p>
            <FieldError id="channel-error" message={errors.channel} />
          </div>
          <div>
            <label htmlFor="note" className={labelClass}>
              Note
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
              Kept with every suppression of this import. Empty: “{DEFAULT_IMPORT_NOTE}”.
            </p>
            <FieldError id="note-error" message={errors.note} />
          </div>
          <div>
            <label htmlFor="addressColumn" className={labelClass}>
              Address column (optional)
            </label>
            <input
              id="addressColumn"
              name="addressColumn"
              maxLength={100}
              placeholder="detect"
              aria-describedby={described("addressColumn", "addressColumn-hint")}
              className={`mt-1 ${inputClass}`}
            />
            <p id="addressColumn-hint" className={hintClass}>
              A header name, a column letter (B) or a number (2).
            </p>
            <FieldError id="addressColumn-error" message={errors.addressColumn} />
          </div>
          <div>
            <label htmlFor="reasonColumn" className={labelClass}>
              Reason column (optional)
            </label>
            <input
              id="reasonColumn"
              name="reasonColumn"
              maxLength={100}
              placeholder="a column named “reason”"
              aria-describedby={described("reasonColumn", "reasonColumn-hint")}
              className={`mt-1 ${inputClass}`}
            />
            <p id="reasonColumn-hint" className={hintClass}>
              A reason code (too_frequent, …) is kept as the reason; other text as a free-text
              reason.
            </p>
            <FieldError id="reasonColumn-error" message={errors.reasonColumn} />
          </div>
          <div className="md:col-span-2">
            <button type="submit" className={buttonClass.primary} disabled={busy}>
              {busy ? "Uploading…" : "Upload and import"}
            </button>
          </div>
        </Form>
      </Section>

      <Section title="Recent imports" id="recent">
        {jobs.length === 0 ? (
          <p className="text-sm text-slate-700">No imports yet.</p>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full divide-y divide-slate-200 text-sm">
              <caption className="sr-only">Recent imports</caption>
              <thead className="bg-slate-50 text-left text-slate-700">
                <tr>
                  <th scope="col" className="px-3 py-2 font-medium">
                    File
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    Status
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    Rows
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    Imported
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    Already
                  </th>
                  <th scope="col" className="px-3 py-2 text-right font-medium">
                    Invalid
                  </th>
                  <th scope="col" className="px-3 py-2 font-medium">
                    When
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
                        {j.format.toUpperCase()} · {j.channel ?? "channel per row"}
                        {j.createdBy ? ` · ${j.createdBy}` : ""}
                      </span>
                    </td>
                    <td className="px-3 py-2">
                      <ImportStatusBadge status={j.status} />
                    </td>
                    <td className="px-3 py-2 text-right tabular-nums">
                      {j.rowsRead.toLocaleString("en")}
                    </td>
                    <td className="px-3 py-2 text-right tabular-nums">
                      {j.imported.toLocaleString("en")}
                    </td>
                    <td className="px-3 py-2 text-right tabular-nums">
                      {j.alreadySuppressed.toLocaleString("en")}
                    </td>
                    <td className="px-3 py-2 text-right tabular-nums">
                      {j.invalid.toLocaleString("en")}
                    </td>
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
