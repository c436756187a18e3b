import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { forbidden, operator, requireAction, requireUser } from "~/admin/auth.server";
import { formError, parseForm } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Pager,
  Section,
  Time,
} from "~/admin/ui/components";
import { ChannelStates, Timeline } from "~/admin/ui/consent-views";
import { useAdminUser } from "~/admin/ui/layout";
import { channelStates, contactsWithAddress, ledgerTimeline } from "~/contacts/contacts.server";
import { SuppressionForm } from "~/admin/ui/suppression-form";
import { NOTE_MAX } from "~/contacts/notes";
import { changeSuppression, channelsOfAddress, targetsFor } from "~/contacts/suppressions.server";
import { ConsentError } from "~/consent/consent.server";
import { reasonLabel } from "~/consent/labels";
import { getDb } from "~/db/db.server";
import { CHANNELS, CONSENT_SOURCES } from "~/db/schema";
import {
  formatListCursor,
  parseListCursor,
  parseListQuery,
  suppressionListPage,
  type ListQueryProblem,
} from "~/exports/suppression-list.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { listReasons } from "~/settings/settings.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.title ?? "Suppressions · Heed admin" },
];

const NOTICES = ["suppressed", "already", "unsuppressed", "unchanged"] as const;

/** Rows per page of the list. */
const LIST_PAGE_ROWS = 50;

/** The list's own query parameters (kept by its links and by the lookup form). */
const LIST_PARAMS = ["channel", "source", "reason", "from", "to", "q", "match"] as const;

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "suppressions");
  const tr = getFixedT(locale, "recipient");
  const url = new URL(request.url);
  const db = getDb();
  const raw = (url.searchParams.get("address") ?? "").trim().slice(0, 320);
  const notice = url.searchParams.get("notice");
  const before = idCursor(url.searchParams);

  // The list: its filter and cursor come from the query string (a GET form: no JavaScript needed).
  const { filter, problems } = parseListQuery(url.searchParams);
  const cursor = parseListCursor(url.searchParams.get("cursor"));
  const reasons = await listReasons(db, { includeDisabled: true });
  const reasonName = (code: string) => {
    const own = reasons.find((r) => r.code === code)?.labels[locale];
    if (own) return own;
    const key = `reasons.${code}`;
    const built = tr(key);
    return built && built !== key ? built : reasonLabel(code);
  };
  const page = await suppressionListPage(db, filter, cursor === "invalid" ? null : cursor, {
    limit: LIST_PAGE_ROWS,
  });
  const listQuery = new URLSearchParams();
  for (const name of LIST_PARAMS) {
    const v = (url.searchParams.get(name) ?? "").trim();
    if (v) listQuery.set(name, v);
  }
  const list = {
    query: Object.fromEntries(listQuery) as Partial<Record<(typeof LIST_PARAMS)[number], string>>,
    filtered: listQuery.toString() !== "",
    problems,
    badCursor: cursor === "invalid",
    atNewest: cursor === null || cursor === "invalid",
    newestHref: `/admin/suppressions?${listQuery}#list`,
    nextHref: page.next
      ? `/admin/suppressions?${new URLSearchParams([...listQuery, ["cursor", formatListCursor(page.next)]])}#list`
      : null,
    budgetReached: page.budgetReached,
    scanned: page.scanned,
    reasons: reasons.map((r) => ({ code: r.code, label: reasonName(r.code) })),
    rows: page.rows.map((r) => ({
      address: r.address,
      channel: r.channel,
      date: r.date,
      topic: r.topic,
      source: r.source,
      reason: r.reason ? reasonName(r.reason) : null,
      campaign: r.campaign,
      href: `/admin/suppressions?${new URLSearchParams({ address: r.address })}#state`,
    })),
  };

  const base = {
    title: `${t("title")} · Heed admin`,
    i18n: i18nPayload(locale, ["suppressions", "labels"]),
    raw,
    notice: NOTICES.find((n) => n === notice) ?? null,
    before,
    list,
  };
  if (!raw) return json({ ...base, lookup: null, invalid: false }, { headers: NO_STORE });
  const found = channelsOfAddress(raw);
  if (!found) return json({ ...base, lookup: null, invalid: true }, { headers: NO_STORE });
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

function formSchema(t: (key: string, options?: Record<string, unknown>) => string) {
  return z.object({
    intent: z.enum(["suppress", "unsuppress"]),
    address: z
      .string()
      .trim()
      .min(1, t("errors.address_required"))
      .max(320, t("errors.max", { max: 320 })),
    scope: z.enum(["all", "email", "sms", "whatsapp"], t("errors.channel")),
    note: z
      .string()
      .trim()
      .min(1, t("errors.note_required"))
      .max(NOTE_MAX, t("errors.max", { max: NOTE_MAX })),
  });
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "agent");
  const locale = negotiateLocale(request);
  const t = getFixedT(locale, "suppressions");
  const intent = formData.get("intent");
  if (intent === "unsuppress" && user.role !== "admin") {
    throw forbidden(t("errors.admins_only"));
  }
  const parsed = parseForm(formSchema(t), Object.fromEntries(formData));
  if (!parsed.ok)
    return formError(t("errors.form"), { ...parsed.fieldErrors, intent: String(intent) });
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
      const channel = scope === "all" ? "" : getFixedT(locale, "common")(`channels.${scope}`);
      const message =
        e.code === "invalid_address" && e.details?.reason !== "missing_country_code"
          ? scope === "all"
            ? t("errors.invalid_any")
            : t(scope === "email" ? "errors.invalid_email" : "errors.invalid_phone", { channel })
          : e.details?.reason === "missing_country_code"
            ? t("errors.country_code")
            : e.message;
      return formError(message, { address: message, intent: parsed.data.intent });
    }
    throw e;
  }
}

export default function Suppressions() {
  const { raw, notice, invalid, lookup, before, list } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const user = useAdminUser();
  const t = useT("suppressions");
  const tc = useT("common");
  const errors = actionData && !actionData.ok ? actionData.fieldErrors : {};
  const errorsFor = (intent: string) => (errors.intent === intent ? errors : {});
  const address = lookup?.address ?? raw;
  const anySuppressed = lookup?.states.some((s) => s.status === "unsubscribed") ?? false;
  const version = `${address}-${lookup?.timeline.entries[0]?.id ?? 0}`;
  const here = lookup
    ? `/admin/suppressions?${new URLSearchParams({ address: lookup.address })}`
    : null;
  const scopes = [
    { value: "all", label: t("scopes.all") },
    ...CHANNELS.map((c) => ({ value: c, label: tc(`channels.${c}`) })),
  ];

  return (
    <div>
      <PageHeader title={t("title")} description={t("description")} />
      {notice ? <Notice kind="success">{t(`notices.${notice}`)}</Notice> : null}
      {actionData && !actionData.ok ? <Notice kind="error">{actionData.message}</Notice> : null}

      <Form method="get" role="search" className="mb-6 flex flex-wrap gap-2">
        <label htmlFor="lookup" className="sr-only">
          {t("lookup.label")}
        </label>
        <input
          id="lookup"
          name="address"
          type="search"
          defaultValue={raw}
          placeholder={t("lookup.label")}
          className={`${inputClass} min-w-0 flex-1`}
        />
        <button type="submit" className={buttonClass.secondary}>
          {t("lookup.button")}
        </button>
      </Form>
      {invalid ? <Notice kind="error">{t("lookup.invalid", { raw })}</Notice> : null}

      {lookup ? (
        <Section title={t("state.title", { address: lookup.address })} id="state">
          <ChannelStates
            states={lookup.states}
            caption={t("state.caption", { address: lookup.address })}
          />
          <p className="mt-3 text-sm text-slate-700">
            {lookup.contacts.length === 0 ? (
              t("state.no_contact")
            ) : (
              <>
                {t("state.held_by")}{" "}
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
      ) : null}

      <div className="grid gap-6 lg:grid-cols-2">
        <Section title={t("forms.suppress_title")} id="suppress">
          <SuppressionForm
            intent="suppress"
            scopes={scopes}
            defaultScope="all"
            address={address}
            errors={errorsFor("suppress")}
            version={version}
          />
        </Section>
        {user?.role === "admin" && (anySuppressed || !lookup) ? (
          <Section title={t("forms.unsuppress_title")} id="unsuppress">
            <SuppressionForm
              intent="unsuppress"
              scopes={scopes}
              defaultScope="all"
              address={address}
              errors={errorsFor("unsuppress")}
              version={version}
            >
              <p className="text-sm text-slate-700">{t("forms.unsuppress_hint")}</p>
            </SuppressionForm>
          </Section>
        ) : null}
      </div>

      {lookup ? (
        <Section title={t("history.title")} id="history">
          <Timeline
            entries={lookup.timeline.entries}
            caption={t("history.caption", { address: lookup.address })}
          />
          <Pager
            label={t("history.pages")}
            prevLabel={t("history.newest")}
            nextLabel={t("history.older")}
            prev={before ? here : null}
            next={
              lookup.timeline.nextBefore ? `${here}&before=${lookup.timeline.nextBefore}` : null
            }
          />
        </Section>
      ) : null}

      <SuppressionList list={list} />
    </div>
  );
}

type ListData = ReturnType<typeof useLoaderData<typeof loader>>["list"];

function SuppressionList({ list }: { list: ListData }) {
  const t = useT("suppressions");
  const tc = useT("common");
  const tl = useT("labels");
  const busy = useNavigation().state === "loading";
  const q = list.query;
  const sourceName = (s: string | null) => (s ? tl(`sources.${s}`, { defaultValue: s }) : "—");
  const problems = list.problems as ListQueryProblem[];
  return (
    <Section title={t("list.title")} id="list">
      <p className="mb-4 text-sm text-slate-700">{t("list.description")}</p>
      <Form
        method="get"
        action="/admin/suppressions#list"
        className="mb-4 grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3"
        aria-label={t("list.filters")}
      >
        <div>
          <label htmlFor="f-channel" className={labelClass}>
            {t("list.channel")}
          </label>
          <select
            id="f-channel"
            name="channel"
            defaultValue={q.channel ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("list.any_channel")}</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {tc(`channels.${c}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-source" className={labelClass}>
            {t("list.source")}
          </label>
          <select
            id="f-source"
            name="source"
            defaultValue={q.source ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("list.any_source")}</option>
            {CONSENT_SOURCES.map((s) => (
              <option key={s} value={s}>
                {sourceName(s)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-reason" className={labelClass}>
            {t("list.reason")}
          </label>
          <select
            id="f-reason"
            name="reason"
            defaultValue={q.reason ?? ""}
            className={`mt-1 ${inputClass}`}
          >
            <option value="">{t("list.any_reason")}</option>
            {list.reasons.map((r) => (
              <option key={r.code} value={r.code}>
                {r.label}
              </option>
            ))}
          </select>
        </div>
        <div className="grid grid-cols-2 gap-2">
          <div>
            <label htmlFor="f-from" className={labelClass}>
              {t("list.from")}
            </label>
            <input
              id="f-from"
              name="from"
              type="date"
              defaultValue={q.from ?? ""}
              className={`mt-1 ${inputClass}`}
            />
          </div>
          <div>
            <label htmlFor="f-to" className={labelClass}>
              {t("list.to")}
            </label>
            <input
              id="f-to"
              name="to"
              type="date"
              defaultValue={q.to ?? ""}
              className={`mt-1 ${inputClass}`}
            />
          </div>
        </div>
        <div className="min-w-0 sm:col-span-2">
          <label htmlFor="f-q" className={labelClass}>
            {t("list.address")}
          </label>
          <div className="mt-1 flex flex-col gap-2 sm:flex-row">
            <select
              id="f-match"
              name="match"
              aria-label={t("list.match")}
              defaultValue={q.match ?? "contains"}
              className={`${inputClass} sm:w-auto sm:shrink-0`}
            >
              <option value="contains">{t("list.contains")}</option>
              <option value="starts">{t("list.starts")}</option>
            </select>
            <div className="min-w-0 sm:flex-1">
              <input
                id="f-q"
                name="q"
                type="search"
                defaultValue={q.q ?? ""}
                maxLength={320}
                autoComplete="off"
                aria-describedby="f-q-hint"
                className={inputClass}
              />
            </div>
          </div>
          <p id="f-q-hint" className="mt-1 text-xs text-slate-600">
            {t("list.address_hint")}
          </p>
        </div>
        <div className="flex flex-wrap items-end gap-2 sm:col-span-2 lg:col-span-3">
          <button type="submit" className={buttonClass.primary} disabled={busy}>
            {t("list.apply")}
          </button>
          {list.filtered ? (
            <Link to="/admin/suppressions#list" className={buttonClass.secondary}>
              {t("list.clear")}
            </Link>
          ) : null}
        </div>
      </Form>

      {list.badCursor ? <Notice kind="error">{t("list.bad_cursor")}</Notice> : null}
      {problems.length > 0 ? (
        <Notice kind="error">
          {problems.map((p) => (
            <span key={p} className="block">
              {t(`list.problems.${p}`)}
            </span>
          ))}
        </Notice>
      ) : null}

      {list.rows.length === 0 ? (
        <p className="text-sm text-slate-700" role="status">
          {list.budgetReached
            ? t("list.none_yet", { count: list.scanned })
            : list.filtered
              ? t("list.none")
              : t("list.empty")}
        </p>
      ) : (
        <>
          {/* Phones: one card per suppression. */}
          <ul className="divide-y divide-slate-200 md:hidden" aria-label={t("list.caption")}>
            {list.rows.map((r, i) => (
              <li key={`${r.channel}-${r.address}-${i}`} className="py-3 text-sm">
                <Link
                  to={r.href}
                  className={`${buttonClass.link} [overflow-wrap:anywhere]`}
                  aria-label={t("list.view", { address: r.address })}
                >
                  {r.address}
                </Link>
                <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-slate-800">
                  <dt className="text-slate-600">{t("list.date")}</dt>
                  <dd>
                    <Time value={r.date} />
                  </dd>
                  <dt className="text-slate-600">{t("list.channel")}</dt>
                  <dd>{tc(`channels.${r.channel}`)}</dd>
                  <dt className="text-slate-600">{t("list.source")}</dt>
                  <dd>{sourceName(r.source)}</dd>
                  <dt className="text-slate-600">{t("list.reason")}</dt>
                  <dd>{r.reason ?? t("list.no_reason")}</dd>
                  {r.topic ? (
                    <>
                      <dt className="text-slate-600">{t("list.topic")}</dt>
                      <dd className="[overflow-wrap:anywhere]">{r.topic}</dd>
                    </>
                  ) : null}
                  {r.campaign ? (
                    <>
                      <dt className="text-slate-600">{t("list.campaign")}</dt>
                      <dd className="[overflow-wrap:anywhere]">{r.campaign}</dd>
                    </>
                  ) : null}
                </dl>
              </li>
            ))}
          </ul>
          {/* Wider screens: a table. */}
          <table className="hidden min-w-full divide-y divide-slate-200 text-sm md:table">
            <caption className="sr-only">{t("list.caption")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.date")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.address")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.channel")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.topic")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.source")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.reason")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("list.campaign")}
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.rows.map((r, i) => (
                <tr key={`${r.channel}-${r.address}-${i}`}>
                  <td className="whitespace-nowrap px-3 py-2 text-slate-700">
                    <Time value={r.date} />
                  </td>
                  <td className="px-3 py-2 [overflow-wrap:anywhere]">
                    <Link
                      to={r.href}
                      className={buttonClass.link}
                      aria-label={t("list.view", { address: r.address })}
                    >
                      {r.address}
                    </Link>
                  </td>
                  <td className="px-3 py-2">{tc(`channels.${r.channel}`)}</td>
                  <td className="px-3 py-2 [overflow-wrap:anywhere]">{r.topic ?? "—"}</td>
                  <td className="px-3 py-2">{sourceName(r.source)}</td>
                  <td className="px-3 py-2">{r.reason ?? t("list.no_reason")}</td>
                  <td className="px-3 py-2 [overflow-wrap:anywhere]">{r.campaign ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {list.budgetReached && list.rows.length > 0 ? (
        <p className="mt-3 text-sm text-slate-700">{t("list.budget", { count: list.scanned })}</p>
      ) : null}
      <Pager
        label={t("list.pages")}
        prevLabel={t("list.newest")}
        nextLabel={t("list.older")}
        prev={list.atNewest ? null : list.newestHref}
        next={list.nextHref}
      />
    </Section>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
