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
import { channelLabel } from "~/consent/labels";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Erase personal data · Heed admin" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const preview = await erasurePreview(getDb(), params.id ?? "");
  if (!preview) throw new Response("There is no contact with this id.", { status: 404 });
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
  const parsed = parseForm(EraseForm, Object.fromEntries(formData));
  if (!parsed.ok) return formError(parsed.message, parsed.fieldErrors);
  try {
    const result = await eraseContact(getDb(), params.id ?? "", operator(user, request, context));
    return redirect(
      `/admin/contacts/${result.contactId}/erase?${new URLSearchParams({ done: "1", addresses: String(result.addresses) })}`,
    );
  } catch (e) {
    if (e instanceof ErasureError)
      throw new Response("There is no contact with this id.", { status: 404 });
    throw e;
  }
}

export default function EraseContact() {
  const { preview, done, erasedAddresses } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const { contact, addresses, otherContacts } = preview;
  const errors: Record<string, string> = actionData && !actionData.ok ? actionData.fieldErrors : {};
  return (
    <div className="max-w-3xl">
      <PageHeader title="Erase personal data" description="GDPR article 17: the right to erasure.">
        <Link to={`/admin/contacts/${contact.id}`} className={buttonClass.secondary}>
          Back to the contact
        </Link>
      </PageHeader>
      {done ? (
        <Notice kind="success">
          Personal data erased.{" "}
          {erasedAddresses
            ? `${erasedAddresses} address${erasedAddresses === 1 ? "" : "es"} (per channel) now exist only as keyed hashes, so they stay suppressed if they come back.`
            : ""}
        </Notice>
      ) : null}
      {contact.erasedAt && !done ? (
        <Notice kind="info">
          This contact was erased on <Time value={contact.erasedAt} />. Erasing again sweeps once
          more for anything left.
        </Notice>
      ) : null}
      <Section title="What will happen" id="what">
        <ul className="list-disc space-y-1 pl-5 text-sm text-slate-800">
          <li>
            The contact&apos;s email, phone, external id and language are removed; its record stays,
            marked erased.
          </li>
          <li>
            Its addresses are kept only as a keyed hash: if they are suppressed now they stay
            suppressed, and sending checks, imports and manual suppressions still recognise them.
          </li>
          <li>
            The consent history keeps each event (when, channel, action, source, campaign, reason
            code) but loses the address, IP address, browser and free text; an “erase” event is
            recorded for each address.
          </li>
          <li>
            The addresses are also removed from the audit log, queued messages (which are
            cancelled), import error reports
            {otherContacts > 0 ? " and the other contacts that hold them" : ""}.
          </li>
          <li>This cannot be undone.</li>
        </ul>
      </Section>
      <Section title="Contact" id="contact">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">External id</dt>
          <dd className="break-all">{contact.externalId ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Email</dt>
          <dd className="break-all">{contact.email ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Phone</dt>
          <dd>{contact.phone ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Addresses</dt>
          <dd>
            {addresses.length === 0 ? (
              "none left in clear text"
            ) : (
              <ul>
                {addresses.map((a) => (
                  <li key={`${a.channel}:${a.address}`} className="break-all">
                    {channelLabel(a.channel)}: {a.address}
                  </li>
                ))}
              </ul>
            )}
          </dd>
          {otherContacts > 0 ? (
            <>
              <dt className="font-medium text-slate-700">Other contacts</dt>
              <dd>
                {otherContacts} other contact{otherContacts === 1 ? "" : "s"} hold
                {otherContacts === 1 ? "s" : ""} one of these addresses and will lose it too.
              </dd>
            </>
          ) : null}
        </dl>
      </Section>
      {!done ? (
        <Section title="Erase" id="erase">
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
              <span>I understand that this erases this person&apos;s data for good.</span>
            </label>
            <FieldError id="confirm-error" message={errors.confirm} />
            <button type="submit" className={buttonClass.danger}>
              Erase personal data
            </button>
          </Form>
        </Section>
      ) : null}
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
