import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { saveBrandingSettings } from "~/admin/branding.server";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formErrorWithValues, parseForm, text } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { getMailSettings } from "~/mail/notices.server";
import { BrandingFormSchema, getBranding, type Branding } from "~/settings/settings.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Branding · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  return json(
    { branding: await getBranding(db), mail: await getMailSettings(db) },
    { headers: NO_STORE },
  );
}

const FIELDS = [
  "organizationName",
  "logoUrl",
  "accentColor",
  "privacyPolicyUrl",
  "supportEmail",
  "supportPhone",
] as const;

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const input = Object.fromEntries(FIELDS.map((f) => [f, text(formData, f).trim()])) as Record<
    (typeof FIELDS)[number],
    string
  >;
  const parsed = parseForm(BrandingFormSchema, input);
  if (!parsed.ok) {
    return formErrorWithValues(parsed.message, parsed.fieldErrors, input);
  }
  const unsubscribeConfirmation = formData.get("unsubscribeConfirmation") === "on";
  await saveBrandingSettings(
    getDb(),
    { branding: parsed.data, mail: { unsubscribeConfirmation } },
    operator(user, request, context),
  );
  return json({
    ok: true as const,
    message: "Branding saved. Recipient pages show it within a few seconds.",
  });
}

export default function BrandingPage() {
  const { branding, mail } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failed = actionData && !actionData.ok ? actionData : null;
  const values: Branding = failed ? { ...branding, ...failed.values } : branding;
  const errors = failed?.fieldErrors ?? {};
  const field = (
    name: (typeof FIELDS)[number],
    label: string,
    props: { type?: string; hint?: string; required?: boolean; placeholder?: string } = {},
  ) => (
    <div>
      <label htmlFor={name} className={labelClass}>
        {label}
      </label>
      <input
        id={name}
        name={name}
        type={props.type ?? "text"}
        required={props.required}
        placeholder={props.placeholder}
        defaultValue={values[name]}
        aria-describedby={`${name}-hint ${name}-error`}
        className={`mt-1 ${props.type === "color" ? "h-10 w-24 rounded-md border border-slate-400 bg-white p-1" : inputClass}`}
      />
      {props.hint ? (
        <p id={`${name}-hint`} className={hintClass}>
          {props.hint}
        </p>
      ) : null}
      <FieldError id={`${name}-error`} message={errors[name]} />
    </div>
  );
  return (
    <div className="max-w-2xl">
      <PageHeader
        title="Branding"
        description="How recipient pages and emails present your organization."
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {failed ? <Notice kind="error">{failed.message}</Notice> : null}
      <Form
        method="post"
        className="space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
        key={JSON.stringify([branding, mail])}
      >
        <CsrfInput />
        {field("organizationName", "Organization name", { required: true })}
        {field("logoUrl", "Logo URL", {
          type: "url",
          placeholder: "https://…",
          hint: "An https:// image, shown at the top of recipient pages. Leave empty for none.",
        })}
        {branding.logoUrl ? (
          <figure className="rounded-md border border-slate-200 bg-slate-50 p-3">
            <img
              src={branding.logoUrl}
              alt={`The current logo of ${branding.organizationName}`}
              className="max-h-16 max-w-full object-contain"
            />
            <figcaption className={hintClass}>
              The current logo, as recipient pages show it.
            </figcaption>
          </figure>
        ) : null}
        {field("accentColor", "Accent colour", {
          type: "color",
          hint: "Buttons and links; text on it is chosen for contrast.",
        })}
        {field("privacyPolicyUrl", "Privacy policy URL", { type: "url", placeholder: "https://…" })}
        {field("supportEmail", "Support email", {
          type: "email",
          hint: "Shown to recipients who need help.",
        })}
        {field("supportPhone", "Support phone", {
          type: "tel",
          placeholder: "+1 800 555 0100",
          hint: "Given in replies to an SMS HELP (with the support email).",
        })}
        <div className="flex items-start gap-2">
          <input
            id="unsubscribeConfirmation"
            name="unsubscribeConfirmation"
            type="checkbox"
            defaultChecked={mail.unsubscribeConfirmation}
            aria-describedby="unsubscribeConfirmation-hint"
            className="mt-1 h-4 w-4"
          />
          <div>
            <label htmlFor="unsubscribeConfirmation" className={labelClass}>
              Email a confirmation after someone unsubscribes from email
            </label>
            <p id="unsubscribeConfirmation-hint" className={hintClass}>
              A short “you have been unsubscribed” message in their language, with a link to their
              preferences and no marketing. Off by default.
            </p>
          </div>
        </div>
        <button type="submit" className={buttonClass.primary}>
          Save branding
        </button>
      </Form>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
