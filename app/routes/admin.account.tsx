import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireSession } from "~/admin/auth.server";
import { formError, parseForm, type FieldErrors } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { changeOwnPassword, PasswordSchema, UserError } from "~/admin/users.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Your account · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { user, session } = await requireSession(request, "agent");
  return json(
    { user, session: { createdAt: session.createdAt, expiresAt: session.expiresAt } },
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

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, session, formData } = await requireAction(request, "agent");
  const parsed = parseForm(ChangePassword, Object.fromEntries(formData));
  if (!parsed.ok) return formError(parsed.message, parsed.fieldErrors);
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
      const fieldErrors: FieldErrors = { currentPassword: e.message };
      return json(
        { ok: false as const, message: e.message, fieldErrors },
        { status: 429, headers: { ...NO_STORE, "Retry-After": String(e.retryAfterSeconds ?? 60) } },
      );
    }
    if (e instanceof UserError) return formError(e.message, { currentPassword: e.message });
    throw e;
  }
  return json({
    ok: true as const,
    message: "Password changed. Your other sessions were logged out.",
  });
}

export default function Account() {
  const { user, session } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  return (
    <div className="max-w-xl">
      <PageHeader title="Your account" description={`${user.email} · ${user.role}`} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}
      <Section title="Session" id="session">
        <p className="text-sm text-slate-700">
          Logged in at <Time value={session.createdAt} />; this session ends at{" "}
          <Time value={session.expiresAt} /> unless you keep using it.
        </p>
      </Section>
      <Section title="Change password" id="password">
        <Form method="post" className="space-y-3">
          <CsrfInput />
          {(
            [
              ["currentPassword", "Current password", "current-password"],
              ["newPassword", "New password (12+ characters)", "new-password"],
              ["confirmPassword", "New password again", "new-password"],
            ] as const
          ).map(([name, label, autoComplete]) => (
            <div key={name}>
              <label htmlFor={name} className={labelClass}>
                {label}
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
            Change password
          </button>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
