import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { forbidden, operator, requireAction, requireUser } from "~/admin/auth.server";
import { formError, parseForm } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  Notice,
  PageHeader,
  Pager,
  Section,
} from "~/admin/ui/components";
import { ChannelStates, Timeline } from "~/admin/ui/consent-views";
import { CHANNEL_LABELS } from "~/consent/labels";
import { useAdminUser } from "~/admin/ui/layout";
import { channelStates, contactsWithAddress, ledgerTimeline } from "~/contacts/contacts.server";
import { SuppressionForm } from "~/admin/ui/suppression-form";
import { NOTE_MAX } from "~/contacts/notes";
import { changeSuppression, channelsOfAddress, targetsFor } from "~/contacts/suppressions.server";
import { ConsentError } from "~/consent/consent.server";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

export const meta: MetaFunction = () => [{ title: "Suppressions · Heed admin" }];

const NOTICES: Record<string, string> = {
  suppressed: "Suppressed.",
  already: "Nothing changed: that was already suppressed.",
  unsuppressed: "Suppression removed.",
  unchanged: "Nothing changed: that was not suppressed.",
};

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const url = new URL(request.url);
  const raw = (url.searchParams.get("address") ?? "").trim().slice(0, 320);
  const notice = url.searchParams.get("notice");
  const before = idCursor(url.searchParams);
  const base = {
    raw,
    notice: notice && NOTICES[notice] ? NOTICES[notice] : null,
    before,
  };
  if (!raw) return json({ ...base, lookup: null, invalid: false }, { headers: NO_STORE });
  const found = channelsOfAddress(raw);
  if (!found) return json({ ...base, lookup: null, invalid: true }, { headers: NO_STORE });
  const db = getDb();
  const targets = found.channels.map((channel) => ({ channel, address: found.address }));
  const [states, contacts, timeline] = await Promise.all([
    channelStates(db, targets),
    contactsWithAddress(db, found.address),
    ledgerTimeline(db, { targets, before }),
  ]);
  return json(
    { ...base, invalid: false, lookup: { address: found.address, states, contacts, timeline } },
    { headers: NO_STORE },
  );
}

const Scope = z.enum(["all", "email", "sms", "whatsapp"], "Pick a channel.");
const FormSchema = z.object({
  intent: z.enum(["suppress", "unsuppress"]),
  address: z.string().trim().min(1, "Enter an email address or a phone number.").max(320),
  scope: Scope,
  note: z
    .string()
    .trim()
    .min(1, "Write a note: why, and on whose request.")
    .max(NOTE_MAX, `At most ${NOTE_MAX} characters.`),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "agent");
  const intent = formData.get("intent");
  if (intent === "unsuppress" && user.role !== "admin") {
    throw forbidden("Only admins can remove a suppression.");
  }
  const parsed = parseForm(FormSchema, Object.fromEntries(formData));
  if (!parsed.ok)
    return formError(parsed.message, { ...parsed.fieldErrors, intent: String(intent) });
  const { address, scope, note } = parsed.data;
  try {
    const targets = targetsFor(address, scope);
    const notice = await changeSuppression(getDb(), {
      intent: parsed.data.intent,
      targets,
      note,
      by: operator(user, request, context),
    });
    return redirect(
      `/admin/suppressions?${new URLSearchParams({ address: targets[0]!.address, notice })}`,
    );
  } catch (e) {
    if (e instanceof ConsentError) {
      const message =
        e.code === "invalid_address" && e.details?.reason !== "missing_country_code"
          ? scope === "all"
            ? "This is neither a valid email address nor a valid phone number."
            : `This is not a valid ${scope === "email" ? "email address" : "phone number"} for ${CHANNEL_LABELS[scope]}.`
          : e.message;
      return formError(message, { address: message, intent: parsed.data.intent });
    }
    throw e;
  }
}

const SCOPES = [
  { value: "all", label: "All channels of this address" },
  { value: "email", label: "Email" },
  { value: "sms", label: "SMS" },
  { value: "whatsapp", label: "WhatsApp" },
];

export default function Suppressions() {
  const { raw, notice, invalid, lookup, before } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const user = useAdminUser();
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const errorsFor = (intent: string) => (errors.intent === intent ? errors : {});
  const address = lookup?.address ?? raw;
  const anySuppressed = lookup?.states.some((s) => s.status === "unsubscribed") ?? false;
  const version = `${address}-${lookup?.timeline.entries[0]?.id ?? 0}`;
  const here = lookup
    ? `/admin/suppressions?${new URLSearchParams({ address: lookup.address })}`
    : null;

  return (
    <div>
      <PageHeader
        title="Suppressions"
        description="Suppressions belong to the address: they apply to every contact and list that holds it, including addresses no contact holds yet."
      />
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Form method="get" role="search" className="mb-6 flex flex-wrap gap-2">
        <label htmlFor="lookup" className="sr-only">
          Look up an email address or phone number
        </label>
        <input
          id="lookup"
          name="address"
          type="search"
          defaultValue={raw}
          placeholder="Look up an email address or phone number"
          className={`${inputClass} min-w-0 flex-1`}
        />
        <button type="submit" className={buttonClass.secondary}>
          Look up
        </button>
      </Form>
      {invalid ? (
        <Notice kind="error">
          “{raw}” is neither a valid email address nor a valid phone number.
        </Notice>
      ) : null}

      {lookup ? (
        <>
          <Section title={`State of ${lookup.address}`} id="state">
            <ChannelStates states={lookup.states} caption={`Channels of ${lookup.address}`} />
            <p className="mt-3 text-sm text-slate-700">
              {lookup.contacts.length === 0 ? (
                "No contact holds this address."
              ) : (
                <>
                  Held by:{" "}
                  {lookup.contacts.map((c, i) => (
                    <span key={c.id}>
                      {i > 0 ? ", " : null}
                      <Link className={buttonClass.link} to={`/admin/contacts/${c.id}`}>
                        {c.externalId ?? c.email ?? c.phone ?? c.id}
                      </Link>
                    </span>
                  ))}
                </>
              )}
            </p>
          </Section>
        </>
      ) : null}

      <div className="grid gap-6 lg:grid-cols-2">
        <Section title="Suppress an address" id="suppress">
          <SuppressionForm
            intent="suppress"
            scopes={SCOPES}
            defaultScope="all"
            address={address}
            errors={errorsFor("suppress")}
            version={version}
          />
        </Section>
        {user?.role === "admin" && (anySuppressed || !lookup) ? (
          <Section title="Remove a suppression" id="unsuppress">
            <SuppressionForm
              intent="unsuppress"
              scopes={SCOPES}
              defaultScope="all"
              address={address}
              errors={errorsFor("unsuppress")}
              version={version}
            >
              <p className="text-sm text-slate-700">
                Only with the person&apos;s documented consent. The note is kept in the ledger.
              </p>
            </SuppressionForm>
          </Section>
        ) : null}
      </div>

      {lookup ? (
        <Section title="History" id="history">
          <Timeline
            entries={lookup.timeline.entries}
            caption={`Consent history of ${lookup.address}`}
          />
          <Pager
            label="History pages"
            prevLabel="↑ Newest"
            nextLabel="Older →"
            prev={before ? here : null}
            next={
              lookup.timeline.nextBefore ? `${here}&before=${lookup.timeline.nextBefore}` : null
            }
          />
        </Section>
      ) : null}
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
