import {
  json,
  redirect,
  type ActionFunctionArgs,
  type AppLoadContext,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useEffect, useState, type ChangeEvent } from "react";
import { saveBrandingLogo, saveBrandingSettings } from "~/admin/branding.server";
import { operator, requireAction, requireRole, requireSession } from "~/admin/auth.server";
import { provenanceProblem, verifyCsrf } from "~/admin/csrf.server";
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
  Section,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { NO_STORE, TEXT_NO_STORE } from "~/http/headers";
import { readCapped, RefusedInput } from "~/http/input-guard.server";
import type { Locale } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { getMailSettings } from "~/mail/notices.server";
import {
  LogoError,
  LOGO_MAX_BYTES,
  LOGO_UPLOAD_MAX_BODY_BYTES,
  logoSrc,
  type LogoProblem,
} from "~/settings/logo.server";
import { BrandingFormSchema, getBranding } from "~/settings/settings.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.title ?? "Branding · Heed admin" },
];

/** Notices after a redirect (`?logo=…`, `?refused=…`: never a form field). */
const LOGO_NOTICES = ["uploaded", "removed", "unchanged"] as const;

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "branding");
  const url = new URL(request.url);
  const branding = await getBranding(db);
  const logoNotice = LOGO_NOTICES.find((n) => n === url.searchParams.get("logo")) ?? null;
  return json(
    {
      title: `${t("title")} · Heed admin`,
      i18n: i18nPayload(locale, ["branding"]),
      branding,
      logo: logoSrc(branding),
      mail: await getMailSettings(db),
      maxKb: LOGO_MAX_BYTES / 1024,
      logoNotice,
      // The edge refused a body over its cap before reading it (app/http/input-guard.server.ts).
      refused: url.searchParams.get("refused") === "too_large",
    },
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

type Failure = {
  ok: false;
  form: "settings" | "logo";
  message: string;
  fieldErrors: Record<string, string>;
  values?: Record<string, string>;
};

function logoRefusal(problem: LogoProblem | "unreadable", locale: Locale) {
  const t = getFixedT(locale, "branding");
  const message = t(`logo.errors.${problem}`, { kb: LOGO_MAX_BYTES / 1024 });
  const failure: Failure = {
    ok: false,
    form: "logo",
    message: t("logo.errors.title"),
    fieldErrors: { logo: message },
  };
  return json(failure, { status: problem === "too_large" ? 413 : 400, headers: NO_STORE });
}

/**
 * The logo upload: the session and the browser's provenance are checked before the body is read;
 * the body is read under its cap (LOGO_UPLOAD_MAX_BODY_BYTES; the edge refuses larger ones and
 * this page says so), then the form's CSRF token, then the file's size and its own bytes
 * (app/settings/logo.server.ts).
 */
async function uploadLogo(request: Request, context: AppLoadContext) {
  const { user, session } = await requireSession(request, "admin");
  const problem = provenanceProblem(request);
  if (problem) {
    throw new Response(`Forbidden: ${problem}.`, { status: 403, headers: TEXT_NO_STORE });
  }
  const locale = negotiateLocale(request);
  let body: Buffer<ArrayBuffer>;
  try {
    // Read to its end (under the edge's cap) even when the file is too large: see
    // LOGO_UPLOAD_MAX_BODY_BYTES. The file's own size is checked next.
    body = await readCapped(request, LOGO_UPLOAD_MAX_BODY_BYTES);
  } catch (e) {
    if (e instanceof RefusedInput) return logoRefusal("too_large", locale);
    throw e;
  }
  let form: FormData;
  try {
    form = await new Response(body, {
      headers: { "Content-Type": request.headers.get("content-type") ?? "" },
    }).formData();
  } catch {
    return logoRefusal("unreadable", locale);
  }
  verifyCsrf(request, form, session);
  const file = form.get("logo");
  const bytes =
    file && typeof file !== "string" && file.size > 0
      ? new Uint8Array(await file.arrayBuffer())
      : null;
  if (!bytes) return logoRefusal("missing", locale);
  try {
    const saved = await saveBrandingLogo(getDb(), bytes, operator(user, request, context));
    return redirect(`/admin/branding?logo=${saved.changed ? "uploaded" : "unchanged"}#logo`);
  } catch (e) {
    if (e instanceof LogoError) return logoRefusal(e.problem, locale);
    throw e;
  }
}

export async function action({ request, context }: ActionFunctionArgs) {
  if ((request.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data")) {
    return uploadLogo(request, context);
  }
  const { user, formData } = await requireAction(request, "admin");
  const t = getFixedT(negotiateLocale(request), "branding");
  if (formData.get("intent") === "logo_remove") {
    await saveBrandingLogo(getDb(), null, operator(user, request, context));
    return redirect("/admin/branding?logo=removed#logo");
  }
  const input = Object.fromEntries(FIELDS.map((f) => [f, text(formData, f).trim()])) as Record<
    (typeof FIELDS)[number],
    string
  >;
  const parsed = parseForm(BrandingFormSchema, input);
  if (!parsed.ok) {
    // Each field's own words, in the page's language.
    const fieldErrors = Object.fromEntries(
      Object.keys(parsed.fieldErrors).map((k) => [
        k,
        t(`errors.${k}`, { defaultValue: parsed.fieldErrors[k] }),
      ]),
    );
    return formErrorWithValues(t("errors.form"), fieldErrors, input);
  }
  const unsubscribeConfirmation = formData.get("unsubscribeConfirmation") === "on";
  await saveBrandingSettings(
    getDb(),
    { branding: parsed.data, mail: { unsubscribeConfirmation } },
    operator(user, request, context),
  );
  return json({ ok: true as const, message: t("saved") });
}

/** The header of a recipient page (app/ui/public-layout.tsx), with this logo. */
function RecipientHeaderPreview({
  src,
  name,
  accent,
  alt,
}: {
  src: string;
  name: string;
  accent: string;
  alt: string;
}) {
  return (
    <div className="overflow-hidden rounded-md border border-slate-200 bg-white">
      {/* An SVG fill, not a style attribute: the Content-Security-Policy allows no inline styles. */}
      <svg
        aria-hidden="true"
        className="block h-1.5 w-full"
        viewBox="0 0 1 1"
        preserveAspectRatio="none"
      >
        <rect width="1" height="1" fill={accent} />
      </svg>
      <div className="flex items-center gap-3 px-4 py-3">
        <img
          src={src}
          alt={alt}
          referrerPolicy="no-referrer"
          className="h-10 w-auto max-w-[12rem] object-contain"
        />
        <p className="text-lg font-semibold text-slate-900 [overflow-wrap:anywhere]">{name}</p>
      </div>
    </div>
  );
}

function LogoSection() {
  const { branding, logo, maxKb, logoNotice, refused } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>() as
    Failure | { ok: true; message: string } | undefined;
  const failed = actionData && !actionData.ok && actionData.form === "logo" ? actionData : null;
  const t = useT("branding");
  const busy = useNavigation().formData?.has("logo") ?? false;
  const [chosen, setChosen] = useState<{ src: string; name: string } | null>(null);
  // Once a file is uploaded (or removed) the form starts empty again: the current logo shows it.
  useEffect(() => setChosen(null), [branding.logoFile]);
  const choose = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    // Only what could be uploaded is shown (a huge file would make a huge data: URL); the upload
    // itself says why another file is refused.
    if (!file || file.size > maxKb * 1024 || !file.type.startsWith("image/")) {
      return setChosen(null);
    }
    // A data: URL (the Content-Security-Policy allows data: images, not blob:).
    const reader = new FileReader();
    reader.onload = () =>
      setChosen(typeof reader.result === "string" ? { src: reader.result, name: file.name } : null);
    reader.readAsDataURL(file);
  };
  const error =
    failed?.fieldErrors.logo ?? (refused ? t("logo.errors.too_large", { kb: maxKb }) : null);
  return (
    <Section title={t("logo.title")} id="logo">
      {logoNotice ? <Notice kind="success">{t(`logo.notices.${logoNotice}`)}</Notice> : null}
      {failed || refused ? <Notice kind="error">{t("logo.errors.title")}</Notice> : null}
      <div className="space-y-4">
        {logo ? (
          <figure>
            <RecipientHeaderPreview
              src={logo}
              name={branding.organizationName}
              accent={branding.accentColor}
              alt={t("logo.current_alt", { organization: branding.organizationName })}
            />
            <figcaption className={hintClass}>
              {branding.logoFile ? t("logo.current_uploaded") : t("logo.current_url")}
            </figcaption>
          </figure>
        ) : (
          <p className="text-sm text-slate-700">{t("logo.none")}</p>
        )}
        <Form
          method="post"
          encType="multipart/form-data"
          className="space-y-3"
          replace
          key={branding.logoFile}
        >
          {/* The token first: the action checks it before it looks at the file. */}
          <CsrfInput />
          <div>
            <label htmlFor="logo-file" className={labelClass}>
              {t("logo.file_label")}
            </label>
            <input
              id="logo-file"
              name="logo"
              type="file"
              required
              accept="image/png,image/jpeg,image/webp,image/gif"
              onChange={choose}
              aria-describedby={`logo-hint${error ? " logo-error" : ""}`}
              aria-invalid={error ? true : undefined}
              className="mt-1 block w-full text-sm text-slate-900 file:mr-3 file:rounded-md file:border file:border-slate-400 file:bg-white file:px-3 file:py-2 file:text-sm file:font-medium file:text-slate-800 hover:file:bg-slate-100"
            />
            <p id="logo-hint" className={hintClass}>
              {t("logo.file_hint", { kb: maxKb })}
            </p>
            <FieldError id="logo-error" message={error} />
          </div>
          {chosen ? (
            <figure>
              <RecipientHeaderPreview
                src={chosen.src}
                name={branding.organizationName}
                accent={branding.accentColor}
                alt={t("logo.chosen_alt", { file: chosen.name })}
              />
              <figcaption className={hintClass}>{t("logo.chosen_caption")}</figcaption>
            </figure>
          ) : null}
          <button type="submit" className={buttonClass.primary} disabled={busy}>
            {busy ? t("logo.uploading") : t("logo.upload")}
          </button>
        </Form>
        {branding.logoFile ? (
          <Form method="post" replace>
            <CsrfInput />
            <input type="hidden" name="intent" value="logo_remove" />
            <button type="submit" className={buttonClass.secondary}>
              {t("logo.remove")}
            </button>
            <p className={hintClass}>
              {branding.logoUrl ? t("logo.remove_hint_url") : t("logo.remove_hint")}
            </p>
          </Form>
        ) : null}
      </div>
    </Section>
  );
}

export default function BrandingPage() {
  const { branding, mail } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>() as
    Failure | { ok: true; message: string } | undefined;
  const t = useT("branding");
  const failed = actionData && !actionData.ok && actionData.form !== "logo" ? actionData : null;
  const values: Record<(typeof FIELDS)[number], string> = failed?.values
    ? { ...branding, ...failed.values }
    : branding;
  const errors = failed?.fieldErrors ?? {};
  const field = (
    name: (typeof FIELDS)[number],
    props: { type?: string; hint?: string; required?: boolean; placeholder?: string } = {},
  ) => (
    <div>
      <label htmlFor={name} className={labelClass}>
        {t(`fields.${name}`)}
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
      <PageHeader title={t("title")} description={t("description")} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {failed ? <Notice kind="error">{failed.message}</Notice> : null}
      <LogoSection />
      <Section title={t("settings_title")} id="settings">
        <Form method="post" className="space-y-4" key={JSON.stringify([branding, mail])}>
          <CsrfInput />
          {field("organizationName", { required: true })}
          {field("logoUrl", {
            type: "url",
            placeholder: "https://…",
            hint: branding.logoFile ? t("hints.logoUrl_overridden") : t("hints.logoUrl"),
          })}
          {branding.logoUrl && branding.logoFile ? (
            <figure className="rounded-md border border-slate-200 bg-slate-50 p-3">
              <img
                src={branding.logoUrl}
                alt={t("logo_url_alt", { organization: branding.organizationName })}
                referrerPolicy="no-referrer"
                className="max-h-16 max-w-full object-contain"
              />
              <figcaption className={hintClass}>{t("logo_url_caption")}</figcaption>
            </figure>
          ) : null}
          {field("accentColor", { type: "color", hint: t("hints.accentColor") })}
          {field("privacyPolicyUrl", { type: "url", placeholder: "https://…" })}
          {field("supportEmail", { type: "email", hint: t("hints.supportEmail") })}
          {field("supportPhone", {
            type: "tel",
            placeholder: "+1 800 555 0100",
            hint: t("hints.supportPhone"),
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
                {t("fields.unsubscribeConfirmation")}
              </label>
              <p id="unsubscribeConfirmation-hint" className={hintClass}>
                {t("hints.unsubscribeConfirmation")}
              </p>
            </div>
          </div>
          <button type="submit" className={buttonClass.primary}>
            {t("save")}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
