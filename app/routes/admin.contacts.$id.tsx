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
import { CsrfInput, useAdminUser } from "~/admin/ui/layout";
import {
  channelStates,
  contactAddresses,
  deleteContact,
  getContact,
  ledgerTimeline,
} from "~/contacts/contacts.server";
import { SuppressionForm } from "~/admin/ui/suppression-form";
import {
  applyAgentChange,
  pendingConfirmations,
  sendPreferencesLink,
} from "~/contacts/agent.server";
import { NOTE_MAX } from "~/contacts/notes";
import { changeSuppression } from "~/contacts/suppressions.server";
import { ConsentError } from "~/consent/consent.server";
import { getDb } from "~/db/db.server";
import { clearUndeliverable, undeliverableStates } from "~/email/undeliverable.server";
import { InboundMessages } from "~/sms/admin-views";
import { inboundTimeline } from "~/sms/review.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";
import { consentErrorMessage, translateFailure } from "~/admin/messages.server";
import { adminPayloadOf, adminString, adminTitle } from "~/admin/ui/i18n";
import { useConsentLabels } from "~/admin/ui/labels";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import type { TFunction } from "~/i18n/i18n.shared";
import { useT } from "~/i18n/react";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => {
  const payload = adminPayloadOf(matches);
  const name =
    data?.contact.email ??
    data?.contact.externalId ??
    adminString(payload, "contact.fallbackTitle") ??
    "Contact";
  return [{ title: `${name} · ${adminTitle(payload)}` }];
};

/** The notices after a change (`?notice=`): `admin:contact.notices.<code>`. */
const NOTICES = new Set([
  "suppressed",
  "already",
  "unsuppressed",
  "unchanged",
  "cleared",
  "not_marked",
  "consent_changed",
  "consent_unchanged",
  "link_sent",
]);

async function load(id: string, t: TFunction) {
  const db = getDb();
  const contact = await getContact(db, id);
  if (!contact) throw new Response(t("contact.notFound"), { status: 404 });
  return { db, contact, targets: contactAddresses(contact) };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const t = getFixedT(negotiateLocale(request), "admin");
  const { db, contact, targets } = await load(params.id ?? "", t);
  const url = new URL(request.url);
  const before = idCursor(url.searchParams);
  const [rawStates, pending, timeline, undeliverable, inbound] = await Promise.all([
    channelStates(db, targets),
    pendingConfirmations(db, targets),
    ledgerTimeline(db, { targets, contactId: contact.id, before }),
    undeliverableStates(db, targets),
    inboundTimeline(db, {
      contactId: contact.id,
      phone: targets.find((t) => t.channel !== "email")?.address ?? null,
    }),
  ]);
  const notice = url.searchParams.get("notice");
  const states = rawStates.map((st) => {
    const p = pending.find((x) => x.channel === st.channel);
    return { ...st, pending: p ? { requestedAt: p.requestedAt, expiresAt: p.expiresAt } : null };
  });
  return json(
    {
      contact,
      states,
      timeline,
      undeliverable,
      inbound,
      before,
      notice: notice && NOTICES.has(notice) ? t(`contact.notices.${notice}`) : null,
    },
    { headers: NO_STORE },
  );
}

const Note = z
  .string()
  .trim()
  .min(1, "Write a note: why, and on whose request.")
  .max(NOTE_MAX, `At most ${NOTE_MAX} characters.`);
const OptionalNote = z
  .string()
  .trim()
  .max(NOTE_MAX, `At most ${NOTE_MAX} characters.`)
  .optional()
  .default("");
const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("suppress"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("unsuppress"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("clear_undeliverable"), scope: z.string(), note: Note }),
  z.object({ intent: z.literal("delete"), confirm: z.literal("yes", "Tick the box to confirm.") }),
  z.object({
    intent: z.literal("topic"),
    scope: z.string(),
    topic: z.string().min(1, "Pick a topic.").max(100),
    state: z.enum(["off", "on"], "Pick off or on."),
    note: OptionalNote,
  }),
  z.object({
    intent: z.literal("pause"),
    scope: z.string(),
    days: z.enum(["30", "90", "resume"], "Pick how long."),
    note: OptionalNote,
  }),
  z.object({
    intent: z.literal("send_link"),
    scope: z.enum(["email", "sms"], "Pick email or SMS."),
  }),
]);

export async function action({ request, params, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "agent");
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "admin");
  const intent = formData.get("intent");
  if ((intent === "unsuppress" || intent === "delete") && user.role !== "admin") {
    throw forbidden(t("contact.errors.adminOnly"));
  }
  const { db, contact, targets } = await load(params.id ?? "", t);
  const parsed = parseForm(ActionSchema, Object.fromEntries(formData));
  if (!parsed.ok) {
    const failure = translateFailure(t, parsed);
    return formError(failure.message, { ...failure.fieldErrors, intent: String(intent) });
  }
  const input = parsed.data;
  const by = operator(user, request, context);

  if (input.intent === "delete") {
    await deleteContact(db, contact.id, by);
    return redirect("/admin/contacts?notice=deleted");
  }

  if (input.intent === "send_link") {
    const target = targets.find((t) => t.channel === input.scope);
    if (!target) {
      return formError(t("contact.errors.noAddressForThat"), {
        scope: t("contact.errors.pickChannelTheyHave"),
        intent: input.intent,
      });
    }
    await sendPreferencesLink(db, {
      contactId: contact.id,
      locale: contact.locale,
      target: { channel: input.scope, address: target.address },
      by,
    });
    return redirect(`/admin/contacts/${contact.id}?notice=link_sent`);
  }

  if (input.intent === "topic" || input.intent === "pause") {
    const target = targets.find((t) => t.channel === input.scope);
    if (!target) {
      return formError(t("contact.errors.pickContactChannel"), {
        scope: t("contact.errors.pickChannel"),
        intent: input.intent,
      });
    }
    try {
      const res = await applyAgentChange(db, {
        contactId: contact.id,
        target,
        change:
          input.intent === "topic"
            ? { kind: input.state === "off" ? "topic_opt_out" : "topic_opt_in", topic: input.topic }
            : input.days === "resume"
              ? { kind: "resume" }
              : { kind: "pause", days: input.days === "30" ? 30 : 90 },
        note: input.note,
        by,
      });
      return redirect(
        `/admin/contacts/${contact.id}?notice=${res.changed ? "consent_changed" : "consent_unchanged"}`,
      );
    } catch (e) {
      if (e instanceof ConsentError) {
        return formError(consentErrorMessage(locale, e), { intent: input.intent });
      }
      throw e;
    }
  }

  if (input.intent === "clear_undeliverable") {
    // Agents may clear it: a bounce mark is not consent, and the note is kept with the change.
    const target = targets.find((t) => t.channel === input.scope);
    if (!target) {
      return formError(t("contact.errors.pickContactChannel"), {
        scope: t("contact.errors.pickChannel"),
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
      return formError(t("contact.errors.pickContactChannel"), {
        scope: t("contact.errors.pickChannel"),
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
    if (e instanceof ConsentError) {
      return formError(consentErrorMessage(locale, e), { intent: input.intent });
    }
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
  const t = useT("admin");
  const labels = useConsentLabels();
  const title = contact.email ?? contact.phone ?? contact.externalId ?? t("contact.fallbackTitle");

  return (
    <div>
      <p className="mb-2 text-sm">
        <Link className={buttonClass.link} to="/admin/contacts">
          ← {t("nav.contacts")}
        </Link>
      </p>
      <PageHeader title={title} />
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Section title={t("contact.details.title")} id="details">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">{t("contacts.columns.externalId")}</dt>
          <dd>{contact.externalId ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.email")}</dt>
          <dd className="break-all">{contact.email ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.phone")}</dt>
          <dd>{contact.phone ?? "—"}</dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.locale")}</dt>
          <dd>
            {contact.locale
              ? t(`languageNames.${contact.locale}`, { defaultValue: contact.locale })
              : "—"}
          </dd>
          <dt className="font-medium text-slate-700">{t("contacts.columns.created")}</dt>
          <dd>
            <Time value={contact.createdAt} />
          </dd>
          {contact.erasedAt ? (
            <>
              <dt className="font-medium text-slate-700">{t("contact.details.erased")}</dt>
              <dd>
                <Time value={contact.erasedAt} />
              </dd>
            </>
          ) : null}
        </dl>
      </Section>

      <Section title={t("contact.channels.title")} id="channels">
        <ChannelStates states={states} caption={t("contact.channels.caption")} />
      </Section>

      {states.length > 0 ? (
        <Section title={t("contact.help.title")} id="help">
          <div className="grid gap-6 lg:grid-cols-3">
            <CallerTopicForm states={states} errors={errorFor("topic")} />
            <CallerPauseForm states={states} errors={errorFor("pause")} />
            <SendLinkForm
              channels={states
                .map((st) => st.channel)
                .filter((c): c is "email" | "sms" => c === "email" || c === "sms")}
              errors={errorFor("send_link")}
            />
          </div>
        </Section>
      ) : null}

      {undeliverable.length > 0 ? (
        <Section title={t("contact.undeliverable.title")} id="undeliverable">
          <p className="mb-3 text-sm text-slate-700">
            {t("contact.undeliverable.introBefore")} <code>undeliverable</code>{" "}
            {t("contact.undeliverable.introAfter")}
          </p>
          <ul className="mb-4 space-y-2" data-testid="undeliverable-marks">
            {undeliverable.map((u) => (
              <li
                key={u.channel}
                className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm"
              >
                <div className="font-medium text-slate-900">
                  {labels.channel(u.channel)}: <span className="break-all">{u.address}</span>
                </div>
                <div className="text-slate-800">
                  {u.reason === "soft_bounces"
                    ? t("contact.undeliverable.softBounces")
                    : t("contact.undeliverable.hardBounce")}
                  {u.provider
                    ? ` ${t("contact.undeliverable.reportedBy", { provider: u.provider })}`
                    : ""}{" "}
                  · {t("contact.undeliverable.since")} <Time value={u.markedAt} />
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
                {t("consent.columns.address")}
              </label>
              <select id="clear-scope" name="scope" className={`mt-1 ${inputClass}`}>
                {undeliverable.map((u) => (
                  <option key={u.channel} value={u.channel}>
                    {labels.channel(u.channel)} ({u.address})
                  </option>
                ))}
              </select>
              <FieldError id="clear-scope-error" message={errorFor("clear_undeliverable").scope} />
            </div>
            <div>
              <label htmlFor="clear-note" className={labelClass}>
                {t("suppressionForm.note")}
              </label>
              <textarea
                id="clear-note"
                name="note"
                required
                rows={2}
                maxLength={NOTE_MAX}
                aria-describedby="clear-note-error"
                className={`mt-1 ${inputClass}`}
                placeholder={t("contact.undeliverable.notePlaceholder")}
              />
              <FieldError id="clear-note-error" message={errorFor("clear_undeliverable").note} />
            </div>
            <button type="submit" className={buttonClass.secondary}>
              {t("contact.undeliverable.clear")}
            </button>
          </Form>
        </Section>
      ) : null}

      {states.length > 0 ? (
        <div className="grid gap-6 lg:grid-cols-2">
          <Section title={t("suppressionForm.suppress")} id="suppress">
            <SuppressionForm
              intent="suppress"
              scopes={[
                { value: "all", label: t("contact.suppress.allChannels") },
                ...states.map((s) => ({
                  value: s.channel,
                  label: `${labels.channel(s.channel)} (${s.address})`,
                })),
              ]}
              defaultScope="all"
              errors={errorFor("suppress")}
              version={`suppress-${timeline.entries[0]?.id ?? 0}`}
            />
          </Section>

          {isAdmin && suppressed.length > 0 ? (
            <Section title={t("contact.unsuppress.title")} id="unsuppress">
              <SuppressionForm
                intent="unsuppress"
                scopes={[
                  ...suppressed.map((s) => ({
                    value: s.channel,
                    label: `${labels.channel(s.channel)} (${s.address})`,
                  })),
                  ...(suppressed.length > 1
                    ? [{ value: "all", label: t("contact.unsuppress.allSuppressed") }]
                    : []),
                ]}
                errors={errorFor("unsuppress")}
                version={`unsuppress-${timeline.entries[0]?.id ?? 0}`}
              >
                <p className="text-sm text-slate-700">{t("contact.unsuppress.intro")}</p>
              </SuppressionForm>
            </Section>
          ) : null}
        </div>
      ) : null}

      <Section title={t("contact.history.title")} id="history">
        <Timeline entries={timeline.entries} caption={t("contact.history.caption")} />
        <Pager
          label={t("contact.history.pagerLabel")}
          prevLabel={t("contact.history.newest")}
          nextLabel={t("contact.history.older")}
          prev={before ? location.pathname : null}
          next={timeline.nextBefore ? `${location.pathname}?before=${timeline.nextBefore}` : null}
        />
      </Section>

      <Section title={t("contact.inbound.title")} id="inbound">
        <InboundMessages entries={inbound} />
      </Section>

      {isAdmin ? (
        <Section title={t("contact.delete.title")} id="delete">
          <Form method="post" className="space-y-3">
            <CsrfInput />
            <input type="hidden" name="intent" value="delete" />
            <p className="text-sm text-slate-700">{t("contact.delete.intro")}</p>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="confirm" value="yes" className="h-4 w-4" />
              {t("contact.delete.confirm")}
            </label>
            <FieldError id="delete-confirm-error" message={errorFor("delete").confirm} />
            <button type="submit" className={buttonClass.secondary}>
              {t("contact.delete.title")}
            </button>
          </Form>
          <p className="mt-4 text-sm text-slate-700">
            {t("contact.delete.eraseBefore")}{" "}
            <Link className={buttonClass.link} to={`/admin/contacts/${contact.id}/erase`}>
              {t("contact.delete.eraseLink")}
            </Link>
            .
          </p>
          <p className="mt-2 text-sm text-slate-700">
            {t("contact.delete.exportBefore")}{" "}
            <a
              className={buttonClass.link}
              href={`/admin/contacts/${contact.id}/export`}
              data-testid="contact-export"
            >
              {t("contact.delete.exportLink")}
            </a>
            .
          </p>
        </Section>
      ) : null}
    </div>
  );
}

type States = ReturnType<typeof useLoaderData<typeof loader>>["states"];
type Errors = Record<string, string | undefined>;

function ChannelOption({ st }: { st: States[number] }) {
  const labels = useConsentLabels();
  return (
    <option value={st.channel}>
      {labels.channel(st.channel)} ({st.address})
    </option>
  );
}

const channelOption = (st: States[number]) => <ChannelOption key={st.channel} st={st} />;

/** Turn one topic off or on for a channel, as the caller asks. */
function CallerTopicForm({ states, errors }: { states: States; errors: Errors }) {
  const topics = [
    ...new Map(states.flatMap((st) => st.topics).map((t) => [t.key, t.name])).entries(),
  ];
  const t = useT("admin");
  if (topics.length === 0) return null;
  return (
    <Form method="post" className="space-y-3" aria-labelledby="help-topic-title">
      <h3 id="help-topic-title" className="font-medium text-slate-900">
        {t("consent.columns.topics")}
      </h3>
      <CsrfInput />
      <input type="hidden" name="intent" value="topic" />
      <div>
        <label htmlFor="topic-scope" className={labelClass}>
          {t("consent.columns.channel")}
        </label>
        <select id="topic-scope" name="scope" className={`mt-1 ${inputClass}`}>
          {states.filter((st) => st.topics.length > 0).map(channelOption)}
        </select>
        <FieldError id="topic-scope-error" message={errors.scope} />
      </div>
      <div>
        <label htmlFor="topic-key" className={labelClass}>
          {t("contact.help.topic")}
        </label>
        <select id="topic-key" name="topic" className={`mt-1 ${inputClass}`}>
          {topics.map(([key, name]) => (
            <option key={key} value={key}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <fieldset>
        <legend className={labelClass}>{t("contact.help.callerWants")}</legend>
        <div className="mt-1 flex gap-4 text-sm">
          <label className="flex items-center gap-2">
            <input type="radio" name="state" value="off" defaultChecked className="h-4 w-4" />
            {t("contact.help.off")}
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="state" value="on" className="h-4 w-4" />
            {t("contact.help.on")}
          </label>
        </div>
      </fieldset>
      <div>
        <label htmlFor="topic-note" className={labelClass}>
          {t("contact.help.noteOptional")}
        </label>
        <input id="topic-note" name="note" maxLength={NOTE_MAX} className={`mt-1 ${inputClass}`} />
        <FieldError id="topic-note-error" message={errors.note} />
      </div>
      <button type="submit" className={buttonClass.secondary}>
        {t("contact.help.changeTopic")}
      </button>
    </Form>
  );
}

/** Pause a channel for 30 or 90 days, or resume it. */
function CallerPauseForm({ states, errors }: { states: States; errors: Errors }) {
  const t = useT("admin");
  return (
    <Form method="post" className="space-y-3" aria-labelledby="help-pause-title">
      <h3 id="help-pause-title" className="font-medium text-slate-900">
        {t("contact.help.pause")}
      </h3>
      <CsrfInput />
      <input type="hidden" name="intent" value="pause" />
      <div>
        <label htmlFor="pause-scope" className={labelClass}>
          {t("consent.columns.channel")}
        </label>
        <select id="pause-scope" name="scope" className={`mt-1 ${inputClass}`}>
          {states.map(channelOption)}
        </select>
        <FieldError id="pause-scope-error" message={errors.scope} />
      </div>
      <div>
        <label htmlFor="pause-days" className={labelClass}>
          {t("contact.help.howLong")}
        </label>
        <select id="pause-days" name="days" className={`mt-1 ${inputClass}`}>
          <option value="30">{t("contact.help.pauseDays", { count: 30 })}</option>
          <option value="90">{t("contact.help.pauseDays", { count: 90 })}</option>
          <option value="resume">{t("contact.help.resumeNow")}</option>
        </select>
      </div>
      <div>
        <label htmlFor="pause-note" className={labelClass}>
          {t("contact.help.noteOptional")}
        </label>
        <input id="pause-note" name="note" maxLength={NOTE_MAX} className={`mt-1 ${inputClass}`} />
      </div>
      <button type="submit" className={buttonClass.secondary}>
        {t("contact.help.apply")}
      </button>
    </Form>
  );
}

/** Send the person the link to their preferences, by email or SMS, in their language. */
function SendLinkForm({ channels, errors }: { channels: ("email" | "sms")[]; errors: Errors }) {
  const t = useT("admin");
  const labels = useConsentLabels();
  if (channels.length === 0) return null;
  return (
    <Form method="post" className="space-y-3" aria-labelledby="help-link-title">
      <h3 id="help-link-title" className="font-medium text-slate-900">
        {t("contact.help.linkTitle")}
      </h3>
      <CsrfInput />
      <input type="hidden" name="intent" value="send_link" />
      <p className="text-sm text-slate-700">{t("contact.help.linkIntro")}</p>
      <fieldset>
        <legend className={labelClass}>{t("contact.help.sendBy")}</legend>
        <div className="mt-1 flex gap-4 text-sm">
          {channels.map((c, i) => (
            <label key={c} className="flex items-center gap-2">
              <input
                type="radio"
                name="scope"
                value={c}
                defaultChecked={i === 0}
                className="h-4 w-4"
              />
              {labels.channel(c)}
            </label>
          ))}
        </div>
        <FieldError id="link-scope-error" message={errors.scope} />
      </fieldset>
      <button type="submit" className={buttonClass.secondary}>
        {t("contact.help.sendLink")}
      </button>
    </Form>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
