import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { localeCookie, saveLocale, savedLocale } from "~/admin/account-locale.server";
import { operator, requireAction, requireSession } from "~/admin/auth.server";
import { formError, parseForm, type FieldErrors } from "~/admin/forms.server";
import { adminT, translateFailure, translateMessage } from "~/admin/messages.server";
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
import { adminPageTitle } from "~/admin/ui/i18n";
import { CsrfInput } from "~/admin/ui/layout";
import { changeOwnPassword, PasswordSchema, UserError } from "~/admin/users.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { LOCALES, type Locale } from "~/i18n/config";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "account.title", "Your account") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user, session } = await requireSession(request, "agent");
  return json(
    {
      user,
      session: { createdAt: session.createdAt, expiresAt: session.expiresAt },
      locale: await savedLocale(getDb(), user.id),
      languageSaved: new URL(request.url).searchParams.get("saved") === "language",
    },
    { headers: NO_STORE },
  );
}

const ChangePassword = z
  .object({
    currentPassword: z.string().min(1, "Enter your current password."),
    newPassword: PasswordSchema,
    confirmPassword: z.string(),
  })
  .refine((v) => v.newPassword === v.confirmPassword, {
    message: "The two new passwords differ.",
    path: ["confirmPassword"],
  });

/** "" is the browser's language (Accept-Language). */
const ChangeLocale = z.object({ locale: z.union([z.enum(LOCALES), z.literal("")]) });

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, session, formData } = await requireAction(request, "agent");
  const t = adminT(request);
  if (formData.get("intent") === "locale") {
    const parsed = parseForm(ChangeLocale, Object.fromEntries(formData));
    if (!parsed.ok)
      return formError(t("account.language.invalid"), { locale: t("account.language.invalid") });
    const locale: Locale | null = parsed.data.locale || null;
    await saveLocale(getDb(), user.id, locale);
    // A redirect, so that the next page (with or without JavaScript) is read with the new cookie.
    return redirect("/admin/account?saved=language", {
      headers: { ...NO_STORE, "Set-Cookie": localeCookie(locale) },
    });
  }
  const parsed = parseForm(ChangePassword, Object.fromEntries(formData));
  if (!parsed.ok) {
    const failure = translateFailure(t, parsed);
    return formError(failure.message, failure.fieldErrors);
  }
  try {
    await changeOwnPassword(getDb(), {
      user,
      currentPassword: parsed.data.currentPassword,
      newPassword: parsed.data.newPassword,
      keepSession: session.idHash,
      by: operator(user, request, context),
    });
  } catch (e) {
    if (e instanceof UserError && e.code === "rate_limited") {
      const message = t("account.password.rateLimited");
      const fieldErrors: FieldErrors = { currentPassword: message };
      return json(
        { ok: false as const, message, fieldErrors },
        { status: 429, headers: { ...NO_STORE, "Retry-After": String(e.retryAfterSeconds ?? 60) } },
      );
    }
    if (e instanceof UserError) {
      const message =
        e.code === "wrong_password" ? t("account.password.wrong") : translateMessage(t, e.message);
      return formError(message, { currentPassword: message });
    }
    throw e;
  }
  return json({
    ok: true as const,
    message: t("account.password.changed"),
  });
}

export default function Account() {
  const { user, session, locale, languageSaved } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const t = useT("admin");
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  return (
    <div className="max-w-xl">
      <PageHeader
        title={t("account.title")}
        description={`${user.email} · ${t(`roles.${user.role}`)}`}
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {languageSaved && !actionData ? (
        <Notice kind="success">{t("account.language.saved")}</Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      <Section title={t("account.session.title")} id="session">
        <p className="text-sm text-slate-700">
          {t("account.session.loggedInAt")} <Time value={session.createdAt} />
          {t("account.session.endsAt")} <Time value={session.expiresAt} />
          {t("account.session.unless")}
        </p>
      </Section>
      <Section title={t("account.language.title")} id="language">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          <input type="hidden" name="intent" value="locale" />
          <div>
            <label htmlFor="locale" className={labelClass}>
              {t("account.language.label")}
            </label>
            <select
              id="locale"
              name="locale"
              defaultValue={locale ?? ""}
              aria-describedby="locale-hint locale-error"
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("account.language.browser")}</option>
              {LOCALES.map((l) => (
                <option key={l} value={l} lang={l}>
                  {t(`languages.${l}`)}
                </option>
              ))}
            </select>
            <p id="locale-hint" className={hintClass}>
              {t("account.language.hint")}
            </p>
            <FieldError id="locale-error" message={errors.locale} />
          </div>
          <button type="submit" className={buttonClass.primary}>
            {t("account.language.save")}
          </button>
        </Form>
      </Section>
      <Section title={t("account.password.title")} id="password">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          {(
            [
              ["currentPassword", "current-password"],
              ["newPassword", "new-password"],
              ["confirmPassword", "new-password"],
            ] as const
          ).map(([name, autoComplete]) => (
            <div key={name}>
              <label htmlFor={name} className={labelClass}>
                {t(`account.password.${name}`)}
              </label>
              <input
                id={name}
                name={name}
                type="password"
                required
                autoComplete={autoComplete}
                aria-describedby={`${name}-error`}
                className={`mt-1 ${inputClass}`}
              />
              <FieldError id={`${name}-error`} message={errors[name]} />
            </div>
          ))}
          <button type="submit" className={buttonClass.primary}>
            {t("account.password.submit")}
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
