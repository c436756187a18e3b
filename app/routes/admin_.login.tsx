import {
  json,
  redirect,
  type ActionFunctionArgs,
  type HeadersFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { getAuthenticated, safeRedirectTo } from "~/admin/auth.server";
import { provenanceProblem } from "~/admin/csrf.server";
import { attemptLogin } from "~/admin/login.server";
import { commitSessionCookie } from "~/admin/session.server";
import { buttonClass, inputClass, labelClass, Notice } from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { clientInfo } from "~/http/request.server";
import { NO_STORE } from "~/http/headers";
import { adminI18nPayload } from "~/admin/locale.server";
import { adminPageTitle } from "~/admin/ui/i18n";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { localeCookie, savedLocale } from "~/admin/account-locale.server";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "login.pageTitle", "Log in") },
];

export const headers: HeadersFunction = ({ actionHeaders }) => {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { ...NO_STORE, "Retry-After": retryAfter } : NO_STORE;
};

export async function loader({ request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const redirectTo = safeRedirectTo(url.searchParams.get("redirectTo"));
  if (await getAuthenticated(request)) throw redirect(redirectTo, { headers: NO_STORE });
  return json(
    { redirectTo, i18n: adminI18nPayload(negotiateLocale(request)) },
    { headers: NO_STORE },
  );
}

/** The messages are `admin:login.errors.<message>`. */
const LoginForm = z.object({
  email: z.string().trim().min(1, "enterEmail").max(320, "enterEmail"),
  password: z.string().min(1, "enterPassword").max(1024, "incorrect"),
  redirectTo: z.string().optional(),
});

type ActionData = { error: string; email: string };

export async function action({ request, context }: ActionFunctionArgs) {
  const t = getFixedT(negotiateLocale(request), "admin");
  // Login CSRF: a login form posted from another site is refused.
  const problem = provenanceProblem(request);
  if (problem) {
    return json<ActionData>(
      { error: t("login.errors.otherSite"), email: "" },
      { status: 403, headers: NO_STORE },
    );
  }
  const form = Object.fromEntries(await request.formData());
  const parsed = LoginForm.safeParse(form);
  const typedEmail = typeof form.email === "string" ? form.email.slice(0, 320) : "";
  if (!parsed.success) {
    return json<ActionData>(
      {
        error: t(`login.errors.${parsed.error.issues[0]?.message ?? "enterBoth"}`, {
          defaultValue: t("login.errors.enterBoth"),
        }),
        email: typedEmail,
      },
      { status: 400, headers: NO_STORE },
    );
  }
  const { ip, userAgent } = clientInfo(request, context);
  // A login replaces whatever session this browser had.
  const previous = await getAuthenticated(request);
  const result = await attemptLogin(getDb(), {
    email: parsed.data.email,
    password: parsed.data.password,
    ip,
    userAgent,
    replacesSession: previous?.session.idHash ?? null,
  });
  if (!result.ok) {
    if (result.reason === "rate_limited") {
      const minutes = Math.ceil(result.retryAfterSeconds / 60);
      return json<ActionData>(
        {
          error: t("login.errors.rateLimited", { count: minutes }),
          email: typedEmail,
        },
        { status: 429, headers: { ...NO_STORE, "Retry-After": String(result.retryAfterSeconds) } },
      );
    }
    return json<ActionData>(
      { error: t("login.errors.incorrect"), email: typedEmail },
      { status: 401, headers: NO_STORE },
    );
  }
  const headers = new Headers(NO_STORE);
  headers.append("Set-Cookie", await commitSessionCookie(result.sessionId));
  // The language this operator chose on their Account page follows them to this browser.
  // (No saved choice clears a cookie another operator may have left in this browser.)
  headers.append("Set-Cookie", localeCookie(await savedLocale(getDb(), result.user.id)));
  return redirect(safeRedirectTo(parsed.data.redirectTo), { headers });
}

export default function Login() {
  const { redirectTo } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const t = useT("admin");
  return (
    <main className="flex min-h-screen items-start justify-center px-4 py-16">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-xl font-semibold text-slate-900">{t("login.title")}</h1>
        <Form method="post" className="mt-5 space-y-4" noValidate>
          {actionData?.error ? <Notice kind="error">{actionData.error}</Notice> : null}
          <input type="hidden" name="redirectTo" value={redirectTo} />
          <div>
            <label htmlFor="email" className={labelClass}>
              {t("login.email")}
            </label>
            <input
              id="email"
              name="email"
              type="email"
              autoComplete="username"
              required
              defaultValue={actionData?.email ?? ""}
              className={`mt-1 ${inputClass}`}
            />
          </div>
          <div>
            <label htmlFor="password" className={labelClass}>
              {t("login.password")}
            </label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              className={`mt-1 ${inputClass}`}
            />
          </div>
          <button type="submit" className={`${buttonClass.primary} w-full`} disabled={busy}>
            {busy ? t("login.submitting") : t("login.submit")}
          </button>
        </Form>
      </div>
    </main>
  );
}
