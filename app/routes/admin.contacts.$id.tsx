import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useLocation } from "@remix-run/react";
import { z } from "zod";
import { forbidden, operator, requireAction, requireUser } from "~/admin/auth.server";
import { formError, parseForm } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Pager,
  Section,
  Time,
} from "~/admin/ui/components";
import { ChannelStates, Timeline } from "~/admin/ui/consent-views";
import { CHANNEL_LABELS } from "~/consent/labels";
import { CsrfInput, useAdminUser } from "~/admin/ui/layout";
import {
  channelStates,
  contactAddresses,
  deleteContact,
  getContact,
  ledgerTimeline,
} from "~/contacts/contacts.server";
import { SuppressionForm } from "~/admin/ui/suppression-form";
import { NOTE_MAX } from "~/contacts/notes";
import { changeSuppression } from "~/contacts/suppressions.server";
import { ConsentError } from "~/consent/consent.server";
import { getDb } from "~/db/db.server";
import { clearUndeliverable, undeliverableStates } from "~/email/undeliverable.server";
import { InboundMessages } from "~/sms/admin-views";
import { inboundTimeline } from "~/sms/review.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.contact.email ?? data?.contact.externalId ?? "Contact"} · Heed admin` },
];

const NOTICES: Record<string, string> = {
  suppressed: "Suppressed. The change is on the timeline below.",
  already: "Nothing changed: that was already suppressed.",
  unsuppressed: "Suppression removed. The change is on the timeline below.",
  unchanged: "Nothing changed: that was not suppressed.",
  cleared: "The undeliverable mark was cleared. Heed will let mail to this address through again.",
  not_marked: "Nothing changed: the address was not marked undeliverable.",
};

async function load(id: string) {
  const db = getDb();
  const contact = await getContact(db, id);
  if (!contact) throw new Response("There is no contact with this id.", { status: 404 });
  return { db, contact, targets: contactAddresses(contact) };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const { db, contact, targets } = await load(params.id ?? "");
  const url = new URL(request.url);
  const before = idCursor(url.searchParams);
  const [states, timeline, undeliverable, inbound] = await Promise.all([
    channelStates(db, targets),
    ledgerTimeline(db, { targets, contactId: contact.id, before }),
    undeliverableStates(db, targets),
    inboundTimeline(db, {
      contactId: contact.id,
      phone: targets.find((t) => t.channel !== "email")?.address ?? null,
    }),
  ]);
  const notice = url.searchParams.get("notice");
  return json(
    {
      contact,
      states,
      timeline,
      undeliverable,
      inbound,
      before,
      notice: notice && NOTICES[notice] ? NOTICES[notice] : null,
    },
    { headers: NO_STORE },
  );
}

const Note = z
  .string()
  .trim()
  .min(1, "Write a note: why, and on whose request.")
  .max(NOTE_MAX, `At most ${NOTE_MAX} characters.`);
const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("suppress"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("unsuppress"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("clear_undeliverable"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("delete"), confirm: z.literal("yes", "Tick the box to confirm.") }),
]);

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "agent");
  const intent = formData.get("intent");
  if ((intent === "unsuppress" || intent === "delete") && user.role !== "admin") {
    throw forbidden("Only admins can remove a suppression or delete a contact.");
  }
  const { db, contact, targets } = await load(params.id ?? "");
  const parsed = parseForm(ActionSchema, Object.fromEntries(formData));
  if (!parsed.ok)
    return formError(parsed.message, { ...parsed.fieldErrors, intent: String(intent) });
  const input = parsed.data;
  const by = operator(user, request, context);

  if (input.intent === "delete") {
    await deleteContact(db, contact.id, by);
    return redirect("/admin/contacts?notice=deleted");
  }

  if (input.intent === "clear_undeliverable") {
    // Agents may clear it: a bounce mark is not consent, and the note is kept with the change.
    const target = targets.find((t) => t.channel === input.scope);
    if (!target) {
      return formError("Pick one of this contact's channels.", {
        scope: "Pick a channel.",
        intent: input.intent,
      });
    }
    const res = await clearUndeliverable(db, {
      channel: target.channel,
      address: target.address,
      note: input.note,
      contactId: contact.id,
      by,
    });
    return redirect(
      `/admin/contacts/${contact.id}?notice=${res.changed ? "cleared" : "not_marked"}`,
    );
  }

  let chosen = targets;
  if (input.scope !== "all") {
    chosen = targets.filter((t) => t.channel === input.scope);
    if (chosen.length === 0) {
      return formError("Pick one of this contact's channels.", {
        scope: "Pick a channel.",
        intent: input.intent,
      });
    }
  }
  try {
    const notice = await changeSuppression(db, {
      intent: input.intent,
      targets: chosen,
      note: input.note,
      contactId: contact.id,
      by,
    });
    return redirect(`/admin/contacts/${contact.id}?notice=${notice}`);
  } catch (e) {
    if (e instanceof ConsentError) return formError(e.message, { intent: input.intent });
    throw e;
  }
}

export default function ContactPage() {
  const { contact, states, timeline, undeliverable, inbound, before, notice } =
    useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const user = useAdminUser();
  const location = useLocation();
  const isAdmin = user?.role === "admin";
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const errorFor = (intent: string) => (errors.intent === intent ? errors : {});
  const suppressed = states.filter((s) => s.status === "unsubscribed");
  const title = contact.email ?? contact.phone ?? contact.externalId ?? "Contact";

  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/contacts">
          ← Contacts
        </Link>
      </p>
      <PageHeader title={title} />
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Section title="Details" id="details">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">External id</dt>
          <dd>{contact.externalId ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Email</dt>
          <dd className="break-all">{contact.email ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Phone</dt>
          <dd>{contact.phone ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Locale</dt>
          <dd>{contact.locale ?? "—"}</dd>
          <dt className="font-medium text-slate-700">Created</dt>
          <dd>
            <Time value={contact.createdAt} />
          </dd>
          {contact.erasedAt ? (
            <>
              <dt className="font-medium text-slate-700">Erased</dt>
              <dd>
                <Time value={contact.erasedAt} />
              </dd>
            </>
          ) : null}
        </dl>
      </Section>

      <Section title="Channels" id="channels">
        <ChannelStates states={states} caption="State of each channel" />
      </Section>

      {undeliverable.length > 0 ? (
        <Section title="Undeliverable" id="undeliverable">
          <p className="mb-3 text-sm text-slate-700">
            Mail to these addresses bounced for good, so Heed answers <code>undeliverable</code> to
            every send check for them, marketing and transactional alike. This is not consent:
            clearing the mark does not subscribe anyone.
          </p>
          <ul className="mb-4 space-y-2" data-testid="undeliverable-marks">
            {undeliverable.map((u) => (
              <li
                key={u.channel}
                className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm"
              >
                <div className="font-medium text-slate-900">
                  {CHANNEL_LABELS[u.channel]}: <span className="break-all">{u.address}</span>
                </div>
                <div className="text-slate-800">
                  {u.reason === "soft_bounces" ? "Soft bounces in a row" : "Hard bounce"}
                  {u.provider ? ` reported by ${u.provider}` : ""} · since{" "}
                  <Time value={u.markedAt} />
                </div>
                {u.detail ? (
                  <div className="mt-1 break-words text-xs text-slate-700">{u.detail}</div>
                ) : null}
              </li>
            ))}
          </ul>
          <Form method="post" className="space-y-3" key={`clear-${timeline.entries[0]?.id ?? 0}`}>
            <CsrfInput />
            <input type="hidden" name="intent" value="clear_undeliverable" />
            <div>
              <label htmlFor="clear-scope" className={labelClass}>
                Address
              </label>
              <select id="clear-scope" name="scope" className={`mt-1 ${inputClass}`}>
                {undeliverable.map((u) => (
                  <option key={u.channel} value={u.channel}>
                    {CHANNEL_LABELS[u.channel]} ({u.address})
                  </option>
                ))}
              </select>
              <FieldError id="clear-scope-error" message={errorFor("clear_undeliverable").scope} />
            </div>
            <div>
              <label htmlFor="clear-note" className={labelClass}>
                Note (required)
              </label>
              <textarea
                id="clear-note"
                name="note"
                required
                rows={2}
                maxLength={NOTE_MAX}
                aria-describedby="clear-note-error"
                className={`mt-1 ${inputClass}`}
                placeholder="Why the address works again (e.g. the person fixed their mailbox)"
              />
              <FieldError id="clear-note-error" message={errorFor("clear_undeliverable").note} />
            </div>
            <button type="submit" className={buttonClass.secondary}>
              Clear undeliverable mark
            </button>
          </Form>
        </Section>
      ) : null}

      {states.length > 0 ? (
        <div className="grid gap-6 lg:grid-cols-2">
          <Section title="Suppress" id="suppress">
            <SuppressionForm
              intent="suppress"
              scopes={[
                { value: "all", label: "All channels" },
                ...states.map((s) => ({
                  value: s.channel,
                  label: `${CHANNEL_LABELS[s.channel]} (${s.address})`,
                })),
              ]}
              defaultScope="all"
              errors={errorFor("suppress")}
              version={`suppress-${timeline.entries[0]?.id ?? 0}`}
            />
          </Section>

          {isAdmin && suppressed.length > 0 ? (
            <Section title="Remove a suppression" id="unsuppress">
              <SuppressionForm
                intent="unsuppress"
                scopes={[
                  ...suppressed.map((s) => ({
                    value: s.channel,
                    label: `${CHANNEL_LABELS[s.channel]} (${s.address})`,
                  })),
                  ...(suppressed.length > 1
                    ? [{ value: "all", label: "All suppressed channels" }]
                    : []),
                ]}
                errors={errorFor("unsuppress")}
                version={`unsuppress-${timeline.entries[0]?.id ?? 0}`}
              >
                <p className="text-sm text-slate-700">
                  Only with the person&apos;s documented consent. The note is kept in the ledger.
                </p>
              </SuppressionForm>
            </Section>
          ) : null}
        </div>
      ) : null}

      <Section title="History" id="history">
        <Timeline entries={timeline.entries} caption="Consent history, newest first" />
        <Pager
          label="History pages"
          prevLabel="↑ Newest"
          nextLabel="Older →"
          prev={before ? location.pathname : null}
          next={timeline.nextBefore ? `${location.pathname}?before=${timeline.nextBefore}` : null}
        />
      </Section>

      <Section title="SMS and WhatsApp replies" id="inbound">
        <InboundMessages entries={inbound} />
      </Section>

      {isAdmin ? (
        <Section title="Delete contact" id="delete">
          <Form method="post" className="space-y-3">
            <CsrfInput />
            <input type="hidden" name="intent" value="delete" />
            <p className="text-sm text-slate-700">
              Deletes this contact record only. Suppressions belong to the addresses and stay, with
              their history.
            </p>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="confirm" value="yes" className="h-4 w-4" />
              Yes, delete this contact
            </label>
            <FieldError id="delete-confirm-error" message={errorFor("delete").confirm} />
            <button type="submit" className={buttonClass.secondary}>
              Delete contact
            </button>
          </Form>
          <p className="mt-4 text-sm text-slate-700">
            To remove this person&apos;s personal data everywhere (GDPR art. 17) while keeping them
            suppressed, use{" "}
            <Link className={buttonClass.link} to={`/admin/contacts/${contact.id}/erase`}>
              Erase personal data
            </Link>
            .
          </p>
          <p className="mt-2 text-sm text-slate-700">
            Everything Heed holds about this person (GDPR art. 15 and 20), in their language:{" "}
            <a
              className={buttonClass.link}
              href={`/admin/contacts/${contact.id}/export`}
              data-testid="contact-export"
            >
              Export personal data
            </a>
            .
          </p>
        </Section>
      ) : null}
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
