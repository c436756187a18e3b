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
import { useT } from "~/i18n/react";
import { readForm } from "~/recipient/page.server";
import { isOneClick, parseUnsubscribeForm } from "~/recipient/forms.server";
import { resolveReason, resubscribeByLink, unsubscribeByLink } from "~/recipient/recipient.server";
import { AnnouncedIf, Announcement, useSettledActionData } from "~/ui/announce";
import { PublicLayout, ui } from "~/ui/public-layout";
import { ReasonFieldset } from "~/ui/reason-fieldset";
import { TokenErrorPage } from "~/ui/token-error";
import { resolveUnsubscribeLink, unsubscribePage } from "~/recipient/token-pages.server";

/**
 * /u/{token}: the unsubscribe page for the token's channel (and topic). GET only reads (link
 * scanners open every link). The form POST unsubscribes with an optional reason; a POST whose
 * body is `List-Unsubscribe=One-Click` (RFC 8058, urlencoded or multipart) unsubscribes at once
 * with source one_click and answers 200, without redirect or cookie; repeats change nothing.
 */

export const headers = () => TOKEN_PAGE_HEADERS;

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data && "title" in data ? data.title : "Unsubscribe" },
];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const page = await unsubscribePage(request, params.token ?? "");
  if (!page.ok) return page.response;
  return json(page.data, { headers: TOKEN_PAGE_HEADERS });
}

type PageData = Exclude<SerializeFrom<typeof loader>, { tokenError: string }>;

type ActionResult =
  | { result: "unsubscribed"; changed: boolean; oneClick: boolean }
  | { result: "resubscribe"; kind: string; keywordNumber?: string | null }
  | { result: "error"; error: "form" | "reason" };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const r = await resolveUnsubscribeLink(request, params.token ?? "");
  if (!r.ok) return r.response;
  const db = getDb();
  const who = clientInfo(request, context);
  const actor = {
    // The ledger names the link's contact even when it was deleted since (its history).
    contactId: r.contact?.id ?? r.claims.sub,
    campaign: r.claims.cp ?? null,
    ip: who.ip,
    userAgent: who.userAgent,
  };
  const form = await readForm(request);
  const reply = (body: ActionResult, status = 200) =>
    json(body, { status, headers: TOKEN_PAGE_HEADERS });
  if (!form) return reply({ result: "error", error: "form" }, 400);

  // RFC 8058 one-click: the mailbox provider posts this exact body; no confirmation, no reason.
  if (isOneClick(form)) {
    const res = await unsubscribeByLink(db, r.target, {
      ...actor,
      source: "one_click",
      locale: r.locale,
      notice: r.contact !== null,
    });
    return reply({ result: "unsubscribed", changed: res.changed, oneClick: true });
  }

  const parsed = parseUnsubscribeForm(form);
  if (!parsed) return reply({ result: "error", error: "form" }, 400);
  if (parsed.intent === "resubscribe") {
    // A channel comes back only through a confirmation sent to its address (rule 5).
    if (!resubscribable(r.target)) return reply({ result: "error", error: "form" }, 400);
    const summary = await resubscribeByLink(db, r.target, {
      ...actor,
      contactId: r.contact?.id ?? null,
      locale: r.locale,
    });
    return reply({
      result: "resubscribe",
      kind: summary.kind,
      keywordNumber: "keywordNumber" in summary ? (summary.keywordNumber ?? null) : null,
    });
  }
  const reason = await resolveReason(db, parsed.reasonCode, parsed.reasonText);
  if (!reason.ok) return reply({ result: "error", error: "reason" }, 400);
  const res = await unsubscribeByLink(db, r.target, {
    ...actor,
    source: "link",
    reasonCode: reason.code,
    reasonText: reason.text,
    locale: r.locale,
    notice: r.contact !== null,
  });
  return reply({ result: "unsubscribed", changed: res.changed, oneClick: false });
}

function resubscribable(t: { topic: unknown; channelUnsubscribed: boolean; display: unknown }) {
  return (t.topic !== null && !t.channelUnsubscribed) || t.display !== null;
}

export default function UnsubscribePage() {
  const data = useLoaderData<typeof loader>();
  const actionData = useSettledActionData<typeof action>();
  if ("tokenError" in data) {
    return <TokenErrorPage reason={data.tokenError} branding={data.branding} />;
  }
  const result = actionData && "result" in actionData ? actionData : undefined;
  return <Unsubscribe data={data} actionData={result} />;
}

function Unsubscribe({ data, actionData }: { data: PageData; actionData?: ActionResult }) {
  const t = useT("recipient");
  const tc = useT("common");
  const { target } = data;
  const vars = { address: target.display ?? "", topic: target.topic ?? "" };
  const ch = target.channel as Channel;
  const phone = ch !== "email";

  const justUnsubscribed = actionData?.result === "unsubscribed";
  const resubscribed = actionData?.result === "resubscribe" ? actionData.kind : null;

  let body;
  if (resubscribed) {
    const message =
      resubscribed === "topic_opt_in"
        ? t("unsubscribe.topicBackDone", vars)
        : resubscribed === "confirm_sent"
          ? t(phone ? "unsubscribe.confirmSent_phone" : "unsubscribe.confirmSent_email", vars)
          : resubscribed === "confirm_rate_limited"
            ? t("unsubscribe.confirmRateLimited")
            : resubscribed === "text_start"
              ? actionData?.result === "resubscribe" && actionData.keywordNumber
                ? t("unsubscribe.textStart", { ...vars, number: actionData.keywordNumber })
                : t("unsubscribe.textStartAny", vars)
              : t("unsubscribe.alreadySubscribed");
    const heading =
      resubscribed === "topic_opt_in"
        ? t("unsubscribe.backTitle.topic", vars)
        : resubscribed === "confirm_sent"
          ? t(phone ? "unsubscribe.backTitle.checkPhone" : "unsubscribe.backTitle.checkInbox")
          : resubscribed === "text_start"
            ? t("unsubscribe.backTitle.textStart")
            : resubscribed === "confirm_rate_limited"
              ? t("unsubscribe.backTitle.waiting")
              : t("unsubscribe.backTitle.subscribed");
    body = (
      <Announcement focusKey={actionData} className={ui.card} testId="unsubscribe-outcome">
        <p className="text-sm font-medium text-slate-600">{tc(`channels.${ch}`)}</p>
        <h1 className={`${ui.h1} mt-1`}>{heading}</h1>
        <p className="mt-3 text-slate-800">{message}</p>
        <p className="mt-6">
          <a className={ui.link} href={data.preferencesUrl}>
            {t("unsubscribe.managePreferences")}
          </a>
        </p>
      </Announcement>
    );
  } else if (justUnsubscribed || target.done) {
    body = (
      <>
        <AnnouncedIf
          announce={justUnsubscribed}
          focusKey={justUnsubscribed ? actionData : null}
          className={ui.card}
          testId="unsubscribe-outcome"
        >
          <h1 className={ui.h1}>
            {justUnsubscribed && actionData.changed
              ? t("unsubscribe.doneTitle")
              : t("unsubscribe.alreadyTitle")}
          </h1>
          <p className="mt-3 text-slate-800">
            {target.display === null
              ? t("unsubscribe.doneUnknown")
              : t(
                  target.topic && !target.channelUnsubscribed
                    ? "unsubscribe.doneTopic"
                    : "unsubscribe.done",
                  {
                    ...vars,
                    context: ch,
                  },
                )}
          </p>
          {justUnsubscribed ? (
            <p className="mt-2 text-slate-700">{t("unsubscribe.thanks")}</p>
          ) : null}
          <p className="mt-6">
            <a className={ui.link} href={data.preferencesUrl}>
              {t("unsubscribe.managePreferences")}
            </a>
          </p>
        </AnnouncedIf>
        {resubscribable(target) ? (
          <section aria-labelledby="mistake-title" className={`${ui.card} mt-6`}>
            <h2 id="mistake-title" className={ui.h2}>
              {t("unsubscribe.mistakeTitle")}
            </h2>
            <Form method="post" className="mt-4 space-y-3">
              <input type="hidden" name="intent" value="resubscribe" />
              {target.topic && !target.channelUnsubscribed ? null : (
                <p className="text-slate-700">{t("unsubscribe.resubscribeHint")}</p>
              )}
              <button type="submit" className={ui.secondaryButton}>
                {target.topic && !target.channelUnsubscribed
                  ? t("unsubscribe.topicBack", vars)
                  : t("unsubscribe.resubscribe")}
              </button>
            </Form>
          </section>
        ) : null}
      </>
    );
  } else {
    const error = actionData?.result === "error" ? actionData.error : null;
    // On a 360×740 phone the button must be in view at once (issue 15.8): the sentence that says
    // what stops, the optional reasons (their free-text box opens with the reason that asks for
    // it), the button; what still arrives and the way to the preference center come after it.
    body = (
      <div className={ui.card}>
        <h1 className={ui.h1}>{t("unsubscribe.title")}</h1>
        <p className="mt-2 text-slate-800">
          {target.display === null
            ? t("unsubscribe.whatUnknown")
            : t(target.topic ? "unsubscribe.whatTopic" : "unsubscribe.what", {
                ...vars,
                context: ch,
              })}
        </p>
        {error ? (
          <Announcement
            kind="alert"
            focusKey={actionData}
            className="mt-4 rounded-lg border border-red-300 bg-red-50 p-3 text-red-900"
          >
            <p>{t(error === "reason" ? "unsubscribe.errorReason" : "unsubscribe.errorForm")}</p>
          </Announcement>
        ) : null}
        <Form method="post" className="mt-4 space-y-4">
          <input type="hidden" name="intent" value="unsubscribe" />
          <ReasonFieldset
            reasons={data.reasons}
            legend={t("unsubscribe.reasonLegend")}
            textLabel={t("unsubscribe.reasonText")}
            compact
          />
          <button type="submit" className={ui.primaryButton}>
            {t("unsubscribe.confirm")}
          </button>
        </Form>
        <p className="mt-4 text-sm text-slate-700">{t("unsubscribe.stillReceive")}</p>
        <p className="mt-4">
          <a className={ui.link} href={data.preferencesUrl}>
            {t("unsubscribe.manageInstead")}
          </a>
        </p>
      </div>
    );
  }
  return <PublicLayout branding={data.branding}>{body}</PublicLayout>;
}
