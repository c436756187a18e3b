import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
  type SerializeFrom,
} from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { getDb } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { clientInfo, TOKEN_PAGE_HEADERS } from "~/http/request.server";
import type { Locale } from "~/i18n/config";
import { formatDate, getFixedT } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { readForm } from "~/recipient/page.server";
import { parsePreferencesForm } from "~/recipient/forms.server";
import {
  loadChannels,
  savePreferences,
  type ChangeSummary,
  type Choice,
  type FrequencyView,
} from "~/recipient/recipient.server";
import { Announcement, useSettledActionData } from "~/ui/announce";
import { PublicLayout, ui } from "~/ui/public-layout";
import { FrequencyFieldset } from "~/ui/frequency-fieldset";
import { ReasonFieldset } from "~/ui/reason-fieldset";
import { TokenErrorPage } from "~/ui/token-error";
import { preferencesPage, resolvePreferencesLink } from "~/recipient/token-pages.server";

/**
 * /p/{token}: the preference center (docs/recipient-pages.md). Every channel the contact has an address on with
 * its state, topic toggles per channel, pause 30/90 days, unsubscribe from all marketing, an
 * optional reason. GET only reads; the POST saves through the consent core and shows what
 * changed. Re-subscribing an unsubscribed channel starts a double opt-in instead.
 */

export const headers = () => TOKEN_PAGE_HEADERS;

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data && "title" in data ? data.title : "Preferences" },
];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const page = await preferencesPage(request, params.token ?? "");
  if (!page.ok) return page.response;
  return json(page.data, { headers: TOKEN_PAGE_HEADERS });
}

type ActionResult =
  | { result: "saved"; lines: string[] }
  | { result: "error"; error: "form" | "invalid_reason" | "stale" | "conflict" };

function describe(
  locale: Locale,
  c: ChangeSummary,
  topicNames: Map<string, string>,
  frequencies: Map<Channel, FrequencyView>,
): string {
  const t = getFixedT(locale, "recipient");
  const channel = getFixedT(locale, "common")(`channels.${c.channel}`);
  switch (c.kind) {
    case "unsubscribe":
    case "resume":
      return t(`preferences.change.${c.kind}`, { channel });
    case "pause":
      return t("preferences.change.pause", {
        channel,
        date: c.pausedUntil ? formatDate(locale, c.pausedUntil) : "",
      });
    case "topic_opt_in":
    case "topic_opt_out":
      return t(`preferences.change.${c.kind}`, {
        channel,
        topic: (c.topic && topicNames.get(`${c.channel}:${c.topic}`)) || c.topic,
      });
    case "confirm_sent":
      return t(
        c.channel === "email"
          ? "preferences.change.confirm_sent_email"
          : "preferences.change.confirm_sent_phone",
        { channel, address: c.display },
      );
    case "frequency": {
      const ch = frequencies.get(c.channel);
      const label = ch?.options.find((o) => o.key === c.frequency)?.label ?? c.frequency;
      return t("preferences.change.frequency", { channel, frequency: label });
    }
    case "confirm_rate_limited":
    case "already_subscribed":
      return t(`preferences.change.${c.kind}`, { channel });
    case "text_start":
      return t(
        c.keywordNumber ? "preferences.change.text_start" : "preferences.change.text_start_any",
        { channel, number: c.keywordNumber ?? "", address: c.display },
      );
  }
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const r = await resolvePreferencesLink(request, params.token ?? "");
  if (!r.ok) return r.response;
  const db = getDb();
  const reply = (body: ActionResult, status = 200) =>
    json(body, { status, headers: TOKEN_PAGE_HEADERS });
  const form = await readForm(request);
  const input = form ? parsePreferencesForm(form) : null;
  if (!input) return reply({ result: "error", error: "form" }, 400);
  const who = clientInfo(request, context);
  const saved = await savePreferences(db, {
    contact: r.contact,
    locale: r.locale,
    input,
    actor: { contactId: r.contact.id, campaign: r.claims.cp ?? null, ...who },
  });
  if (!saved.ok)
    return reply(
      { result: "error", error: saved.error },
      saved.error === "invalid_reason" ? 400 : 409,
    );
  const channels = await loadChannels(db, r.contact, r.locale);
  const names = new Map(
    channels.flatMap((c) => c.topics.map((tp) => [`${c.channel}:${tp.key}`, tp.name] as const)),
  );
  const frequencies = new Map(channels.map((c) => [c.channel, c.frequency] as const));
  return reply({
    result: "saved",
    lines: saved.changes.map((c) => describe(r.locale, c, names, frequencies)),
  });
}

type PageData = Exclude<SerializeFrom<typeof loader>, { tokenError: string }>;
type ChannelData = PageData["channels"][number];

export default function PreferencesPage() {
  const data = useLoaderData<typeof loader>();
  const actionData = useSettledActionData<typeof action>();
  if ("tokenError" in data) {
    return <TokenErrorPage reason={data.tokenError} branding={data.branding} />;
  }
  const result = actionData && "result" in actionData ? actionData : undefined;
  return <Preferences data={data} actionData={result} />;
}

const STATE_BADGE: Record<ChannelData["state"], string> = {
  subscribed: "border-green-300 bg-green-50 text-green-900",
  unsubscribed: "border-slate-300 bg-slate-100 text-slate-800",
  paused: "border-amber-300 bg-amber-50 text-amber-900",
  pending: "border-sky-300 bg-sky-50 text-sky-900",
};

function Preferences({ data, actionData }: { data: PageData; actionData?: ActionResult }) {
  const t = useT("recipient");
  const signature = JSON.stringify(
    data.channels.map((c) => [
      c.state,
      c.pausedLabel,
      c.topics.map((tp) => tp.subscribed),
      c.frequency.selected,
    ]),
  );
  const anySubscribed = data.channels.some((c) => c.state !== "unsubscribed");
  // Every channel unsubscribed: nothing left to turn off, so no "tell us why" and no Save; a
  // done state with the way back (subscribe a channel again, through double opt-in) instead.
  const allDone = data.channels.length > 0 && !anySubscribed;
  return (
    <PublicLayout branding={data.branding}>
      {actionData?.result === "saved" ? (
        <Announcement
          focusKey={actionData}
          testId="preferences-outcome"
          className="mb-6 rounded-xl border border-green-300 bg-green-50 p-4 text-green-950"
        >
          <h2 className="font-semibold">{t("preferences.savedTitle")}</h2>
          {actionData.lines.length > 0 ? (
            <ul className="mt-2 list-disc space-y-1 pl-5">
              {actionData.lines.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          ) : (
            <p className="mt-1">{t("preferences.nothingChanged")}</p>
          )}
        </Announcement>
      ) : null}
      {actionData?.result === "error" ? (
        <Announcement
          kind="alert"
          focusKey={actionData}
          testId="preferences-outcome"
          className="mb-6 rounded-xl border border-red-300 bg-red-50 p-4 text-red-900"
        >
          <p>{t(`preferences.error.${actionData.error}`)}</p>
        </Announcement>
      ) : null}
      <h1 className={ui.h1}>{t("preferences.title")}</h1>
      {data.channels.length === 0 ? (
        <p className="mt-3 text-slate-700">{t("preferences.nothingToManage")}</p>
      ) : allDone ? (
        <AllUnsubscribed data={data} />
      ) : (
        <>
          <p className="mt-2 text-slate-700">
            {t("preferences.intro", { organization: data.branding.organizationName })}
          </p>
          <Form method="post" key={signature} className="mt-6 space-y-6">
            {data.channels.map((c) => (
              <ChannelCard key={c.channel} c={c} />
            ))}
            <section className={ui.card} aria-label={t("preferences.reasonLegend")}>
              <ReasonFieldset
                reasons={data.reasons}
                legend={t("preferences.reasonLegend")}
                textLabel={t("preferences.reasonText")}
              />
            </section>
            <div>
              <button type="submit" name="intent" value="save" className={ui.primaryButton}>
                {t("preferences.save")}
              </button>
            </div>
            <section aria-labelledby="all-title" className={`${ui.card} border-red-200`}>
              <h2 id="all-title" className={ui.h2}>
                {t("preferences.allTitle")}
              </h2>
              <p className="mt-2 text-slate-700">{t("preferences.allHint")}</p>
              <button
                type="submit"
                name="intent"
                value="unsubscribe_all"
                className={`${ui.dangerButton} mt-4`}
              >
                {t("preferences.allButton")}
              </button>
            </section>
          </Form>
        </>
      )}
    </PublicLayout>
  );
}

/**
 * The done state: every channel is unsubscribed. Says so plainly and offers, per channel, the way
 * back: one small form each that asks for the channel again (a double opt-in confirmation, as the
 * "Subscribe again" choice of the full form does).
 */
function AllUnsubscribed({ data }: { data: PageData }) {
  const t = useT("recipient");
  const tc = useT("common");
  return (
    <>
      <section
        aria-labelledby="all-done-title"
        className={`${ui.card} mt-4 border-slate-300`}
        data-testid="all-unsubscribed"
      >
        <h2 id="all-done-title" className={ui.h2}>
          {t("preferences.allDone.title", { organization: data.branding.organizationName })}
        </h2>
        <p className="mt-2 text-slate-700">{t("preferences.allDone.body")}</p>
      </section>
      <section aria-labelledby="way-back-title" className="mt-6">
        <h2 id="way-back-title" className={ui.h2}>
          {t("preferences.allDone.backTitle")}
        </h2>
        <p className="mt-1 text-slate-700">{t("preferences.allDone.backHint")}</p>
        <ul className="mt-4 space-y-4">
          {data.channels.map((c) => {
            const ch = c.channel as Channel;
            const id = `ch-${ch}`;
            return (
              <li key={ch} className={ui.card}>
                <div className="flex flex-wrap items-center justify-between gap-2">
                  <h3 id={`${id}-title`} className="text-lg font-semibold text-slate-900">
                    {tc(`channels.${ch}`)}
                  </h3>
                  <span
                    className={`rounded-full border px-3 py-0.5 text-sm font-medium ${STATE_BADGE[c.state]}`}
                    data-testid={`${id}-state`}
                  >
                    {t(`state.${c.state}`)}
                  </span>
                </div>
                <p className="mt-1 break-all text-slate-700">{c.display}</p>
                {c.confirmationPending ? (
                  <p className="mt-3 rounded-lg bg-sky-50 p-3 text-sm text-sky-950">
                    {t("preferences.confirmationPending")}
                  </p>
                ) : null}
                <Form method="post" className="mt-3">
                  <input type="hidden" name="intent" value="save" />
                  <input type="hidden" name={`choice.${ch}`} value="resubscribe" />
                  <button
                    type="submit"
                    className={ui.secondaryButton}
                    aria-describedby={`${id}-title`}
                  >
                    {c.confirmationPending
                      ? t("preferences.allDone.resend")
                      : t(`preferences.allDone.resubscribe_${ch}`)}
                  </button>
                </Form>
              </li>
            );
          })}
        </ul>
      </section>
    </>
  );
}

function choiceLabel(t: ReturnType<typeof useT>, c: ChannelData, choice: Choice): string {
  switch (choice) {
    case "keep":
      if (c.state === "paused") return t("preferences.choice.keepPaused", { date: c.pausedLabel });
      if (c.state === "pending") return t("preferences.choice.keepPending");
      return t("preferences.choice.stayUnsubscribed");
    case "receive":
      return t(c.state === "paused" ? "preferences.choice.resume" : "preferences.choice.receive");
    case "resubscribe":
      return t(
        c.state === "pending" || c.confirmationPending
          ? "preferences.choice.resendConfirmation"
          : "preferences.choice.resubscribe",
      );
    default:
      return t(`preferences.choice.${choice}`);
  }
}

function ChannelCard({ c }: { c: ChannelData }) {
  const t = useT("recipient");
  const tc = useT("common");
  const ch = c.channel as Channel;
  const id = `ch-${ch}`;
  const stateLabel =
    c.state === "paused" ? t("state.paused", { date: c.pausedLabel }) : t(`state.${c.state}`);
  return (
    <section aria-labelledby={`${id}-title`} className={ui.card}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id={`${id}-title`} className="text-xl font-semibold text-slate-900">
          {tc(`channels.${ch}`)}
        </h2>
        <span
          className={`rounded-full border px-3 py-0.5 text-sm font-medium ${STATE_BADGE[c.state]}`}
          data-testid={`${id}-state`}
        >
          {stateLabel}
        </span>
      </div>
      <p className="mt-1 break-all text-slate-700">{c.display}</p>
      {c.confirmationPending ? (
        <p className="mt-3 rounded-lg bg-sky-50 p-3 text-sm text-sky-950">
          {t("preferences.confirmationPending")}
        </p>
      ) : null}
      <fieldset className="mt-4">
        <legend className="font-semibold text-slate-900">{t("preferences.deliveryLegend")}</legend>
        <div className="mt-2 space-y-2">
          {c.choices.map((choice, i) => (
            <label key={choice} htmlFor={`${id}-${choice}`} className="flex items-center gap-3">
              <input
                id={`${id}-${choice}`}
                type="radio"
                name={`choice.${ch}`}
                value={choice}
                defaultChecked={i === 0}
                className={ui.radio}
              />
              <span>{choiceLabel(t, c, choice as Choice)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      {c.topicsEditable ? (
        <FrequencyFieldset
          channel={ch}
          options={c.frequency.options}
          selected={c.frequency.selected}
        />
      ) : null}
      {!c.topicsEditable ? (
        <p className="mt-4 text-sm text-slate-700">{t("preferences.topicsHidden")}</p>
      ) : c.topics.length === 0 ? (
        <p className="mt-4 text-sm text-slate-700">{t("preferences.noTopics")}</p>
      ) : (
        <fieldset className="mt-5 border-t border-slate-200 pt-4">
          <legend className="font-semibold text-slate-900">{t("preferences.topicsLegend")}</legend>
          <p className="text-sm text-slate-600">{t("preferences.topicsHint")}</p>
          <input type="hidden" name={`topicsShown.${ch}`} value="1" />
          <div className="mt-3 space-y-3">
            {c.topics.map((tp) => (
              <div key={tp.key} className="flex items-start gap-3">
                <input
                  id={`${id}-topic-${tp.key}`}
                  type="checkbox"
                  name={`topics.${ch}`}
                  value={tp.key}
                  defaultChecked={tp.subscribed}
                  aria-describedby={tp.description ? `${id}-topic-${tp.key}-desc` : undefined}
                  className="mt-0.5 h-5 w-5 shrink-0 rounded border-slate-400 accent-[rgb(var(--heed-accent-ink))]"
                />
                <div>
                  <label htmlFor={`${id}-topic-${tp.key}`} className="font-medium text-slate-900">
                    {tp.name}
                  </label>
                  {tp.description ? (
                    <p id={`${id}-topic-${tp.key}-desc`} className="text-sm text-slate-600">
                      {tp.description}
                    </p>
                  ) : null}
                </div>
              </div>
            ))}
          </div>
        </fieldset>
      )}
    </section>
  );
}
