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

export const meta: MetaFunction = () => [{ title: "Users · Heed admin" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  return json({ users: await listUsers(getDb()) }, { headers: NO_STORE });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
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
        if (!parsed.ok) return formError(parsed.message, { ...parsed.fieldErrors, form: "create" });
        const { user: created, generatedPassword } = await createUser(db, input, by);
        return json({
          ok: true as const,
          message: `Created ${created.role} ${created.email}.`,
          password: generatedPassword ? { email: created.email, value: generatedPassword } : null,
        });
      }
      case "role": {
        const parsed = parseForm(RoleChangeSchema, form);
        if (!parsed.ok) return formError("Pick a role.");
        await setUserRole(db, parsed.data.id, parsed.data.role, by);
        return json({ ok: true as const, message: "Role changed.", password: null });
      }
      case "disable":
      case "enable": {
        const parsed = parseForm(UserIdSchema, form);
        if (!parsed.ok) return formError("Unknown user.");
        await setUserDisabled(db, parsed.data.id, intent === "disable", by);
        return json({
          ok: true as const,
          message: intent === "disable" ? "User disabled; their sessions ended." : "User enabled.",
          password: null,
        });
      }
      case "reset": {
        const parsed = parseForm(UserIdSchema, form);
        if (!parsed.ok) return formError("Unknown user.");
        const reset = await resetUserPassword(db, parsed.data.id, null, by).catch((e: unknown) => {
          if (e instanceof UserError && e.code === "not_found") return null;
          throw e;
        });
        if (!reset) return formError("Unknown user.");
        const { email, generatedPassword } = reset;
        return json({
          ok: true as const,
          message: `New password set for ${email}; their sessions ended.`,
          password: generatedPassword ? { email, value: generatedPassword } : null,
        });
      }
      default:
        return formError("Unknown action.");
    }
  } catch (e) {
    if (e instanceof UserError) return formError(e.message, { form: intent });
    throw e;
  }
}

export default function Users() {
  const { users } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const me = useAdminUser();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const createErrors = errors.form === "create" ? errors : {};
  return (
    <div>
      <PageHeader
        title="Users"
        description="Agents search contacts, see history and suppress. Admins can do everything."
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData?.ok && actionData.password ? (
        <Notice kind="info">
          Password for <strong>{actionData.password.email}</strong>:{" "}
          <code className="select-all rounded bg-white px-1 py-0.5 font-mono">
            {actionData.password.value}
          </code>
          <br />
          It is shown only now. Hand it over securely; the user can change it under their account.
        </Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <div className="mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">Users</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                User
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Role
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Last login
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                State
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                Actions
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
                      Role of {u.email}
                    </label>
                    <select
                      id={`role-${u.id}`}
                      name="role"
                      defaultValue={u.role}
                      className="rounded-md border border-slate-400 bg-white px-2 py-1 text-sm"
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                    <button type="submit" className={buttonClass.secondary}>
                      Change
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
                          {u.disabledAt ? "Enable" : "Disable"}
                          <span className="sr-only"> {u.email}</span>
                        </button>
                      </Form>
                    ) : null}
                    <Form method="post">
                      <CsrfInput />
                      <input type="hidden" name="intent" value="reset" />
                      <input type="hidden" name="id" value={u.id} />
                      <button type="submit" className={buttonClass.secondary}>
                        New password<span className="sr-only"> for {u.email}</span>
                      </button>
                    </Form>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Section title="Create a user" id="create-user">
        <Form method="post" className="grid max-w-2xl gap-4 sm:grid-cols-2">
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div>
            <label htmlFor="new-email" className={labelClass}>
              Email
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
              Name (optional)
            </label>
            <input id="new-name" name="name" autoComplete="off" className={`mt-1 ${inputClass}`} />
          </div>
          <div>
            <label htmlFor="new-role" className={labelClass}>
              Role
            </label>
            <select id="new-role" name="role" defaultValue="agent" className={`mt-1 ${inputClass}`}>
              <option value="agent">agent</option>
              <option value="admin">admin</option>
            </select>
          </div>
          <div>
            <label htmlFor="new-password" className={labelClass}>
              Password (optional)
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
              Empty: a strong password is generated and shown once.
            </p>
            <FieldError id="new-password-error" message={createErrors.password} />
          </div>
          <div className="sm:col-span-2">
            <button type="submit" className={buttonClass.primary}>
              Create user
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
