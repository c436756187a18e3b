import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { formError, parseForm } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { eraseContact, ErasureError, erasurePreview } from "~/consent/erasure.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { adminT, translateFailure } from "~/admin/messages.server";
import { adminPageTitle } from "~/admin/ui/i18n";
import { useConsentLabels } from "~/admin/ui/labels";
import { useT } from "~/i18n/react";

export const meta: MetaFunction = ({ matches }) => [
  { title: adminPageTitle(matches, "contact.delete.eraseLink", "Erase personal data") },
];

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const preview = await erasurePreview(getDb(), params.id ?? "");
  if (!preview) throw new Response(adminT(request)("contact.notFound"), { status: 404 });
  const url = new URL(request.url);
  const done = url.searchParams.get("done") === "1";
  const swept = Number.parseInt(url.searchParams.get("addresses") ?? "", 10);
  return json(
    { preview, done, erasedAddresses: Number.isFinite(swept) ? swept : null },
    { headers: NO_STORE },
  );
}

const EraseForm = z.object({
  confirm: z.literal("yes", "Tick the box to confirm."),
});

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const t = adminT(request);
  const parsed = parseForm(EraseForm, Object.fromEntries(formData));
  if (!parsed.ok) {
    const failure = translateFailure(t, parsed);
    return formError(failure.message, failure.fieldErrors);
  }
  try {
    const result = await eraseContact(getDb(), params.id ?? "", operator(user, request, context));
    return redirect(
      `/admin/contacts/${result.contactId}/erase?${new URLSearchParams({ done: "1", addresses: String(result.addresses) })}`,
    );
  } catch (e) {
    if (e instanceof ErasureError) throw new Response(t("contact.notFound"), { status: 404 });
    throw e;
  }
}

export default function EraseContact() {
  const { preview, done, erasedAddresses } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const { contact, addresses, otherContacts } = preview;
  const errors: Record<string, string> = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const t = useT("admin");
  const labels = useConsentLabels();
  return (
    <div className="max-w-3xl">
      <PageHeader title={t("contact.delete.eraseLink")} description={t("erase.description")}>
        <Link to={`/admin/contacts/${contact.id}`} className={buttonClass.secondary}>
          {t("erase.back")}
        </Link>
      </PageHeader>
      {done ? (
        <Notice kind="success">
          {t("erase.done")}{" "}
          {erasedAddresses ? t("erase.doneAddresses", { count: erasedAddresses }) : ""}
        </Notice>
      ) : null}
      {contact.erasedAt && !done ? (
        <Notice kind="info">
          {t("erase.alreadyBefore")} <Time value={contact.erasedAt} />
          {t("erase.alreadyAfter")}
        </Notice>
      ) : null}
      <Section title={t("erase.what.title")} id="what">
        <ul className="list-disc space-y-1 pl-5 text-sm text-slate-800">
          <li>{t("erase.what.record")}</li>
          <li>{t("erase.what.hash")}</li>
          <li>{t("erase.what.history")}</li>
          <li>{otherContacts > 0 ? t("erase.what.elsewhereOthers") : t("erase.what.elsewhere")}</li>
          <li>{t("erase.what.final")}</li>
        </ul>
      </Section>
      <Section title={t("contact.fallbackTitle")} id="contact">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">{t("contacts.columns.externalId")}</dt>
          <dd className="break-all">{contact.externalId ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.email")}</dt>
          <dd className="break-all">{contact.email ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.phone")}</dt>
          <dd>{contact.phone ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("erase.addresses")}</dt>
          <dd>
            {addresses.length === 0 ? (
              t("erase.noneInClear")
            ) : (
              <ul>
                {addresses.map((a) => (
                  <li key={`${a.channel}:${a.address}`} className="break-all">
                    {labels.channel(a.channel)}: {a.address}
                  </li>
                ))}
              </ul>
            )}
          </dd>
          {otherContacts > 0 ? (
            <>
              <dt className="font-medium text-slate-700">{t("erase.otherContacts")}</dt>
              <dd>{t("erase.otherContactsText", { count: otherContacts })}</dd>
            </>
          ) : null}
        </dl>
      </Section>
      {!done ? (
        <Section title={t("erase.title")} id="erase">
          <Form method="post" className="space-y-3" noValidate>
            <CsrfInput />
            {actionData && !actionData.ok ? (
              <Notice kind="error">{actionData.message}</Notice>
            ) : null}
            <label className="flex items-start gap-2 text-sm">
              <input
                type="checkbox"
                name="confirm"
                value="yes"
                className="mt-0.5 h-4 w-4"
                aria-describedby={errors.confirm ? "confirm-error" : undefined}
                aria-invalid={errors.confirm ? true : undefined}
              />
              <span>{t("erase.confirm")}</span>
            </label>
            <FieldError id="confirm-error" message={errors.confirm} />
            <button type="submit" className={buttonClass.danger}>
              {t("contact.delete.eraseLink")}
            </button>
          </Form>
        </Section>
      ) : null}
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
