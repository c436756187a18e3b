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

export const meta: MetaFunction = () => [{ title: "Log in · Heed admin" }];

export const headers: HeadersFunction = ({ actionHeaders }) => {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { ...NO_STORE, "Retry-After": retryAfter } : NO_STORE;
};

export async function loader({ request }: LoaderFunctionArgs) {
  const url = new URL(request.url);
  const redirectTo = safeRedirectTo(url.searchParams.get("redirectTo"));
  if (await getAuthenticated(request)) throw redirect(redirectTo, { headers: NO_STORE });
  return json({ redirectTo }, { headers: NO_STORE });
}

const LoginForm = z.object({
  email: z.string().trim().min(1, "Enter your email address.").max(320),
  password: z.string().min(1, "Enter your password.").max(1024),
  redirectTo: z.string().optional(),
});

type ActionData = { error: string; email: string };

export async function action({ request, context }: ActionFunctionArgs) {
  // Login CSRF: a login form posted from another site is refused.
  const problem = provenanceProblem(request);
  if (problem) {
    return json<ActionData>(
      { error: "This login form was sent from another site and was refused.", email: "" },
      { status: 403, headers: NO_STORE },
    );
  }
  const form = Object.fromEntries(await request.formData());
  const parsed = LoginForm.safeParse(form);
  const typedEmail = typeof form.email === "string" ? form.email.slice(0, 320) : "";
  if (!parsed.success) {
    return json<ActionData>(
      {
        error: parsed.error.issues[0]?.message ?? "Enter your email and password.",
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
          error: `Too many failed login attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
          email: typedEmail,
        },
        { status: 429, headers: { ...NO_STORE, "Retry-After": String(result.retryAfterSeconds) } },
      );
    }
    return json<ActionData>(
      { error: "The email or password is incorrect.", email: typedEmail },
      { status: 401, headers: NO_STORE },
    );
  }
  return redirect(safeRedirectTo(parsed.data.redirectTo), {
    headers: { ...NO_STORE, "Set-Cookie": await commitSessionCookie(result.sessionId) },
  });
}

export default function Login() {
  const { redirectTo } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  return (
    <main className="flex min-h-screen items-start justify-center px-4 py-16">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-xl font-semibold text-slate-900">Log in to Heed admin</h1>
        <Form method="post" className="mt-5 space-y-4" noValidate>
          {actionData?.error ? <Notice kind="error">{actionData.error}</Notice> : null}
          <input type="hidden" name="redirectTo" value={redirectTo} />
          <div>
            <label htmlFor="email" className={labelClass}>
              Email
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
              Password
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
            {busy ? "Logging in…" : "Log in"}
          </button>
        </Form>
      </div>
    </main>
  );
}
