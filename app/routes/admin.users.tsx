import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, parseForm, text } from "~/admin/forms.server";
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
  StatusBadge,
  Time,
} from "~/admin/ui/components";
import { CsrfInput, useAdminUser } from "~/admin/ui/layout";
import {
  createUser,
  listUsers,
  NewUserSchema,
  PASSWORD_MIN,
  resetUserPassword,
  RoleChangeSchema,
  setUserDisabled,
  setUserRole,
  UserError,
  UserIdSchema,
} from "~/admin/users.server";
import { ROLES } from "~/admin/roles";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { adminT, translateFailure } from "~/admin/messages.server";
import { adminPageTitle } from "~/admin/ui/i18n";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "nav.users", "Users") },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json({ users: await listUsers(getDb()) }, { headers: NO_STORE });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const t = adminT(request);
  const db = getDb();
  const intent = text(formData, "intent");
  const form = Object.fromEntries(formData);
  try {
    switch (intent) {
      case "create": {
        const input = {
          email: text(formData, "email"),
          name: text(formData, "name"),
          role: text(formData, "role") as "agent",
          password: text(formData, "password"),
        };
        const parsed = parseForm(NewUserSchema, input);
        if (!parsed.ok) {
          const failure = translateFailure(t, parsed);
          return formError(failure.message, { ...failure.fieldErrors, form: "create" });
        }
        const { user: created, generatedPassword } = await createUser(db, input, by);
        return json({
          ok: true as const,
          message: t("users.created", { role: t(`roles.${created.role}`), email: created.email }),
          password: generatedPassword ? { email: created.email, value: generatedPassword } : null,
        });
      }
      case "role": {
        const parsed = parseForm(RoleChangeSchema, form);
        if (!parsed.ok) return formError(t("messages.pickRole"));
        await setUserRole(db, parsed.data.id, parsed.data.role, by);
        return json({ ok: true as const, message: t("users.roleChanged"), password: null });
      }
      case "disable":
      case "enable": {
        const parsed = parseForm(UserIdSchema, form);
        if (!parsed.ok) return formError(t("messages.unknownUser"));
        await setUserDisabled(db, parsed.data.id, intent === "disable", by);
        return json({
          ok: true as const,
          message: intent === "disable" ? t("users.disabled") : t("users.enabled"),
          password: null,
        });
      }
      case "reset": {
        const parsed = parseForm(UserIdSchema, form);
        if (!parsed.ok) return formError(t("messages.unknownUser"));
        const reset = await resetUserPassword(db, parsed.data.id, null, by).catch((e: unknown) => {
          if (e instanceof UserError && e.code === "not_found") return null;
          throw e;
        });
        if (!reset) return formError(t("messages.unknownUser"));
        const { email, generatedPassword } = reset;
        return json({
          ok: true as const,
          message: t("users.passwordReset", { email }),
          password: generatedPassword ? { email, value: generatedPassword } : null,
        });
      }
      default:
        return formError(t("messages.unknownAction"));
    }
  } catch (e) {
    // The domain's English message is for logs and the CLI; the page says it in the admin's language.
    if (e instanceof UserError) {
      const message = t(`users.errors.${e.code}`, {
        defaultValue: e.message,
        email: text(formData, "email").trim().toLowerCase(),
      });
      return formError(message, { form: intent });
    }
    throw e;
  }
}

export default function Users() {
  const { users } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const me = useAdminUser();
  const t = useT("admin");
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const createErrors = errors.form === "create" ? errors : {};
  return (
    <div>
      <PageHeader title={t("nav.users")} description={t("users.description")} />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData?.ok && actionData.password ? (
        <Notice kind="info">
          {t("users.passwordFor")} <strong>{actionData.password.email}</strong>:{" "}
          <code className="select-all rounded bg-white px-1 py-0.5 font-mono">
            {actionData.password.value}
          </code>
          <br />
          {t("users.passwordShownOnce")}
        </Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      {/* `relative`: the sr-only text in the buttons is positioned inside the scrolling box, not the page. */}
      <div className="relative mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{t("nav.users")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.user")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.role")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.lastLogin")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.state")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.actions")}
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {users.map((u) => (
              <tr key={u.id} className="align-top" data-user={u.email}>
                <td className="px-3 py-2">
                  <div className="font-medium break-all">{u.email}</div>
                  {u.name ? <div className="text-slate-700">{u.name}</div> : null}
                </td>
                <td className="px-3 py-2">
                  <Form method="post" className="flex items-center gap-2" key={`${u.id}-${u.role}`}>
                    <CsrfInput />
                    <input type="hidden" name="intent" value="role" />
                    <input type="hidden" name="id" value={u.id} />
                    <label htmlFor={`role-${u.id}`} className="sr-only">
                      {t("users.roleOf", { email: u.email })}
                    </label>
                    <select
                      id={`role-${u.id}`}
                      name="role"
                      defaultValue={u.role}
                      className="rounded-md border border-slate-400 bg-white px-2 py-1 text-sm"
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {t(`roles.${r}`)}
                        </option>
                      ))}
                    </select>
                    <button type="submit" className={buttonClass.secondary}>
                      {t("users.change")}
                    </button>
                  </Form>
                </td>
                <td className="px-3 py-2 text-slate-700">
                  <Time value={u.lastLoginAt} />
                </td>
                <td className="px-3 py-2">
                  <StatusBadge status={u.disabledAt ? "disabled" : "enabled"} />
                </td>
                <td className="px-3 py-2">
                  <div className="flex flex-wrap gap-2">
                    {u.id !== me?.id ? (
                      <Form method="post">
                        <CsrfInput />
                        <input
                          type="hidden"
                          name="intent"
                          value={u.disabledAt ? "enable" : "disable"}
                        />
                        <input type="hidden" name="id" value={u.id} />
                        <button type="submit" className={buttonClass.secondary}>
                          {u.disabledAt ? t("users.enable") : t("users.disable")}
                          <span className="sr-only"> {u.email}</span>
                        </button>
                      </Form>
                    ) : null}
                    <Form method="post">
                      <CsrfInput />
                      <input type="hidden" name="intent" value="reset" />
                      <input type="hidden" name="id" value={u.id} />
                      <button type="submit" className={buttonClass.secondary}>
                        {t("users.newPassword")}
                        <span className="sr-only">
                          {" "}
                          {t("users.newPasswordFor", { email: u.email })}
                        </span>
                      </button>
                    </Form>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Section title={t("users.create.title")} id="create-user">
        <Form method="post" className="grid max-w-2xl gap-4 sm:grid-cols-2">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div>
            <label htmlFor="new-email" className={labelClass}>
              {t("users.create.email")}
            </label>
            <input
              id="new-email"
              name="email"
              type="email"
              required
              autoComplete="off"
              aria-describedby="new-email-error"
              className={`mt-1 ${inputClass}`}
            />
            <FieldError id="new-email-error" message={createErrors.email} />
          </div>
          <div>
            <label htmlFor="new-name" className={labelClass}>
              {t("users.create.name")}
            </label>
            <input id="new-name" name="name" autoComplete="off" className={`mt-1 ${inputClass}`} />
          </div>
          <div>
            <label htmlFor="new-role" className={labelClass}>
              {t("users.columns.role")}
            </label>
            <select id="new-role" name="role" defaultValue="agent" className={`mt-1 ${inputClass}`}>
              <option value="agent">{t("roles.agent")}</option>
              <option value="admin">{t("roles.admin")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="new-password" className={labelClass}>
              {t("users.create.password")}
            </label>
            <input
              id="new-password"
              name="password"
              type="password"
              autoComplete="new-password"
              minLength={PASSWORD_MIN}
              aria-describedby="new-password-hint new-password-error"
              className={`mt-1 ${inputClass}`}
            />
            <p id="new-password-hint" className={hintClass}>
              {t("users.create.passwordHint")}
            </p>
            <FieldError id="new-password-error" message={createErrors.password} />
          </div>
          <div className="sm:col-span-2">
            <button type="submit" className={buttonClass.primary}>
              {t("users.create.submit")}
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
