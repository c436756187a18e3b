import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import {
  createApiKeyAudited,
  NewApiKeySchema,
  revokeApiKeyAudited,
  RevokeApiKeySchema,
} from "~/admin/api-keys.server";
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
import { CsrfInput } from "~/admin/ui/layout";
import { API_SCOPES, listApiKeys } from "~/api/keys.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { adminT, translateFailure } from "~/admin/messages.server";
import { adminPageTitle } from "~/admin/ui/i18n";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "nav.apiKeys", "API keys") },
];

/** API keys for sending systems (docs/api.md): create (shown once), name, scopes, revoke. Admins only. */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const keys = await listApiKeys(getDb());
  return json({ keys, scopes: [...API_SCOPES] }, { headers: NO_STORE });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const by = operator(user, request, context);
  const t = adminT(request);
  const db = getDb();
  const intent = text(formData, "intent");
  if (intent === "create") {
    const parsed = parseForm(NewApiKeySchema, {
      name: text(formData, "name"),
      scopes: formData.getAll("scopes").map(String),
    });
    if (!parsed.ok) {
      const failure = translateFailure(t, parsed);
      return formError(failure.message, failure.fieldErrors);
    }
    const created = await createApiKeyAudited(db, parsed.data, by);
    return json({
      ok: true as const,
      message: t("apiKeys.created", { name: parsed.data.name }),
      key: created.key,
    });
  }
  if (intent === "revoke") {
    const parsed = parseForm(RevokeApiKeySchema, { id: text(formData, "id") });
    if (!parsed.ok) return formError(t("apiKeys.unknown"));
    const revoked = await revokeApiKeyAudited(db, parsed.data.id, by);
    if (!revoked) return formError(t("apiKeys.notRevocable"));
    return json({
      ok: true as const,
      message: t("apiKeys.revoked", { name: revoked.name }),
      key: null,
    });
  }
  return formError(t("messages.unknownAction"));
}

export default function ApiKeys() {
  const { keys, scopes } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const t = useT("admin");
  return (
    <div>
      <PageHeader
        title={t("nav.apiKeys")}
        description={
          <>
            {t("apiKeys.introBefore")}{" "}
            <a className={buttonClass.link} href="/api/docs">
              {t("apiKeys.senderApi")}
            </a>
            {t("apiKeys.introAfter")}
          </>
        }
      />
      {actionData?.ok ? <Notice kind="success">{actionData.message}</Notice> : null}
      {actionData?.ok && actionData.key ? (
        <Notice kind="info">
          <span className="block font-medium">{t("apiKeys.newKey")}</span>
          <code
            data-testid="new-api-key"
            className="mt-1 block select-all break-all rounded bg-white px-2 py-1 font-mono"
          >
            {actionData.key}
          </code>
          <span className="mt-1 block">
            {t("apiKeys.storeIt")} <code>Authorization: Bearer …</code>.
          </span>
        </Notice>
      ) : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <div className="relative mb-6 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{t("nav.apiKeys")}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("apiKeys.columns.name")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("apiKeys.columns.prefix")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("apiKeys.columns.scopes")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("contacts.columns.created")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("apiKeys.columns.lastUsed")}
              </th>
              <th scope="col" className="px-3 py-2 font-medium">
                {t("users.columns.state")}
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {keys.length === 0 ? (
              <tr>
                <td colSpan={6} className="px-3 py-4 text-slate-700">
                  {t("apiKeys.none")}
                </td>
              </tr>
            ) : null}
            {keys.map((k) => (
              <tr key={k.id} className="align-top" data-api-key={k.name}>
                <td className="px-3 py-2 font-medium break-words">{k.name}</td>
                <td className="px-3 py-2 font-mono text-xs">heed_{k.prefix}_…</td>
                <td className="px-3 py-2">{k.scopes.join(", ")}</td>
                <td className="px-3 py-2 text-slate-700">
                  <Time value={k.createdAt} />
                  {k.createdBy ? (
                    <div className="text-xs">{t("apiKeys.by", { name: k.createdBy })}</div>
                  ) : null}
                </td>
                <td className="px-3 py-2 text-slate-700">
                  <Time value={k.lastUsedAt} />
                </td>
                <td className="px-3 py-2">
                  {k.revokedAt ? (
                    <span className="flex flex-col gap-1">
                      <StatusBadge status="revoked" />
                      <Time value={k.revokedAt} />
                    </span>
                  ) : (
                    <Form method="post" className="flex flex-wrap items-center gap-2">
                      <CsrfInput />
                      <StatusBadge status="active" />
                      <input type="hidden" name="intent" value="revoke" />
                      <input type="hidden" name="id" value={k.id} />
                      <button type="submit" className={buttonClass.secondary}>
                        {t("apiKeys.revoke")}
                        <span className="sr-only"> {k.name}</span>
                      </button>
                    </Form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <Section title={t("apiKeys.create.title")} id="create-key">
        <Form
          method="post"
          className="grid max-w-2xl gap-4"
          key={actionData?.ok ? (actionData.key ?? "done") : "new"}
        >
          <CsrfInput />
          <input type="hidden" name="intent" value="create" />
          <div>
            <label htmlFor="key-name" className={labelClass}>
              {t("apiKeys.columns.name")}
            </label>
            <input
              id="key-name"
              name="name"
              required
              maxLength={200}
              autoComplete="off"
              aria-describedby="key-name-hint key-name-error"
              className={`mt-1 ${inputClass}`}
            />
            <p id="key-name-hint" className={hintClass}>
              {t("apiKeys.create.nameHint")}
            </p>
            <FieldError id="key-name-error" message={errors.name} />
          </div>
          <fieldset aria-describedby="key-scopes-error">
            <legend className={labelClass}>{t("apiKeys.columns.scopes")}</legend>
            <div className="mt-2 grid gap-2">
              {scopes.map((s) => (
                <label key={s} className="flex items-start gap-2 text-sm text-slate-800">
                  <input type="checkbox" name="scopes" value={s} className="mt-0.5 h-4 w-4" />
                  <span>
                    <span className="font-mono font-medium">{s}</span>
                    <span className="text-slate-700">: {t(`apiKeys.scopes.${s}`)}</span>
                  </span>
                </label>
              ))}
            </div>
            <FieldError id="key-scopes-error" message={errors.scopes} />
          </fieldset>
          <div>
            <button type="submit" className={buttonClass.primary}>
              {t("apiKeys.create.submit")}
            </button>
          </div>
        </Form>
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
