import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
  type SerializeFrom,
} from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import {
  confirmDoubleOptIn,
  getDoubleOptInRequest,
  restartDoubleOptIn,
  type DoubleOptInRequest,
} from "~/consent/double-opt-in.server";
import { getDb } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { TOKEN_PAGE_HEADERS, clientInfo } from "~/http/request.server";
import { getFixedT } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { signLinkToken } from "~/links/tokens.server";
import { publicPageData, readForm, resolveLinkToken } from "~/recipient/page.server";
import { displayAddress } from "~/recipient/recipient.server";
import { topicNames } from "~/topics/topics.server";
import { AnnouncedIf, Announcement, useSettledActionData } from "~/ui/announce";
import { PublicLayout, ui } from "~/ui/public-layout";
import { TokenErrorPage } from "~/ui/token-error";

/**
 * /c/{token}: the double opt-in confirmation (docs/consent.md, rule 5). GET only shows the request and a
 * confirm button: mail scanners follow links, so opening the link confirms nothing. The POST
 * confirms through the consent core (source double_opt_in, with IP, user agent and the request's
 * evidence). An expired or superseded request gets a clear page with "send me a new confirmation";
 * a bad, tampered or foreign token gets the friendly token error page.
 */

export const headers = () => TOKEN_PAGE_HEADERS;

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data && "title" in data ? data.title : "Confirm" },
];

type Confirmation = { request: DoubleOptInRequest & { address: string } };

/** A confirmation token and its stored request; an expired token still resolves (to offer a new one). */
function resolve(request: Request, token: string) {
  return resolveLinkToken<Confirmation>(getDb(), request, token, "confirm", {
    namespaces: ["confirm"],
    acceptExpired: true,
    async load(claims, localeOf) {
      const req = claims.rid ? await getDoubleOptInRequest(getDb(), claims.rid) : null;
      // A request of another contact, or of an erased address: as if the link did not exist.
      if (!req || req.contactId !== claims.sub || req.channel !== claims.ch || !req.address)
        return null;
      return { request: { ...req, address: req.address }, locale: localeOf(req.locale) };
    },
  });
}

async function pageData(r: Extract<Awaited<ReturnType<typeof resolve>>, { ok: true }>) {
  const db = getDb();
  const [page, topics] = await Promise.all([
    publicPageData(db, r.locale, ["confirm"]),
    topicNames(db, r.request.topics, r.locale),
  ]);
  const title = getFixedT(r.locale, "confirm")("meta.title", {
    organization: page.branding.organizationName,
  });
  return {
    ...page,
    title,
    state: r.request.status,
    channel: r.request.channel,
    firstSignup: r.request.firstSignup,
    address: displayAddress(r.request.channel, r.request.address),
    topics,
  };
}

const STATUS = { pending: 200, confirmed: 200, expired: 410, superseded: 410 } as const;

export async function loader({ request, params }: LoaderFunctionArgs) {
  const r = await resolve(request, params.token ?? "");
  if (!r.ok) return r.response;
  const data = await pageData(r);
  return json(data, { status: STATUS[data.state], headers: TOKEN_PAGE_HEADERS });
}

type PageData = Exclude<SerializeFrom<typeof loader>, { tokenError: string }>;

type ActionResult =
  | { result: "confirmed"; preferencesUrl: string }
  | {
      result: "resent";
      status: "sent" | "rate_limited" | "already_subscribed" | "keyword_required";
      keywordNumber?: string | null;
    }
  | { result: "error" };

const FormSchema = z.object({ intent: z.enum(["confirm", "resend"]) });

export async function action({ request, params, context }: ActionFunctionArgs) {
  const r = await resolve(request, params.token ?? "");
  if (!r.ok) return r.response;
  const db = getDb();
  const who = clientInfo(request, context);
  const reply = (body: ActionResult, status = 200) =>
    json(body, { status, headers: TOKEN_PAGE_HEADERS });
  const form = await readForm(request);
  const parsed = FormSchema.safeParse({ intent: form?.get("intent") ?? undefined });
  if (!parsed.success) return reply({ result: "error" }, 400);
  const { claims } = r;

  if (parsed.data.intent === "confirm") {
    // An expired token never confirms, whatever the request row says.
    if (r.request.status !== "pending" || claims.exp * 1000 <= Date.now()) {
      return reply({ result: "error" }, STATUS[r.request.status] === 200 ? 409 : 410);
    }
    const res = await confirmDoubleOptIn(db, {
      requestId: r.request.id,
      contactId: claims.sub,
      ip: who.ip,
      userAgent: who.userAgent,
    });
    if (res.status !== "confirmed") return reply({ result: "error" }, 409);
    const preferences = await signLinkToken({
      contactId: claims.sub,
      channel: claims.ch,
      purpose: "preferences",
    });
    return reply({ result: "confirmed", preferencesUrl: `/p/${preferences}` });
  }

  if (r.request.status !== "expired" && r.request.status !== "superseded")
    return reply({ result: "error" }, 409);
  const res = await restartDoubleOptIn(db, {
    requestId: r.request.id,
    contactId: claims.sub,
    ip: who.ip,
    userAgent: who.userAgent,
  });
  if (res.status === "not_found") return reply({ result: "error" }, 400);
  return reply(
    { result: "resent", status: res.status, keywordNumber: res.keywordNumber ?? null },
    res.status === "rate_limited" ? 429 : 200,
  );
}

export default function ConfirmPage() {
  const data = useLoaderData<typeof loader>();
  const actionData = useSettledActionData<typeof action>();
  if ("tokenError" in data) {
    return <TokenErrorPage reason={data.tokenError} branding={data.branding} />;
  }
  const result = actionData && "result" in actionData ? actionData : undefined;
  return <Confirm data={data} actionData={result} />;
}

function Confirm({ data, actionData }: { data: PageData; actionData?: ActionResult }) {
  const t = useT("confirm");
  const vars = { organization: data.branding.organizationName, address: data.address };
  const channel = data.channel as Channel;
  // A first sign-up is confirmed; a re-subscription is "again".
  const signup = data.firstSignup;

  let body;
  if (actionData?.result === "confirmed" || data.state === "confirmed") {
    const now = actionData?.result === "confirmed";
    body = (
      <AnnouncedIf
        announce={now}
        focusKey={now ? actionData : null}
        className={ui.card}
        testId="confirm-outcome"
      >
        <h1 className={ui.h1}>
          {now
            ? t(signup ? "confirmed.titleSignup" : "confirmed.title")
            : t("confirmed.alreadyTitle")}
        </h1>
        <p className="mt-3 text-slate-800">
          {now
            ? t(signup ? "confirmed.bodySignup" : "confirmed.body", vars)
            : t("confirmed.already")}
        </p>
        {now ? (
          <p className="mt-6">
            <a className={ui.link} href={actionData.preferencesUrl}>
              {t("confirmed.managePreferences")}
            </a>
          </p>
        ) : null}
      </AnnouncedIf>
    );
  } else if (data.state === "expired" || data.state === "superseded") {
    const resent = actionData?.result === "resent" ? actionData.status : null;
    const message =
      resent === "sent"
        ? t(channel === "email" ? "resend.sent_email" : "resend.sent_phone", vars)
        : resent === "rate_limited"
          ? t("resend.rateLimited")
          : resent === "already_subscribed"
            ? t("resend.alreadySubscribed")
            : resent === "keyword_required"
              ? actionData?.result === "resent" && actionData.keywordNumber
                ? t("resend.textStart", { ...vars, number: actionData.keywordNumber })
                : t("resend.textStartAny", vars)
              : null;
    body = (
      <div className={ui.card}>
        <h1 className={ui.h1}>{t(`${data.state}.title`)}</h1>
        <p className="mt-3 text-slate-800">
          {t(data.state === "expired" && signup ? "expired.bodySignup" : `${data.state}.body`)}
        </p>
        {message ? (
          <Announcement
            focusKey={actionData}
            className="mt-4 rounded-lg border border-slate-300 bg-slate-50 p-3 text-slate-900"
          >
            <p>{message}</p>
          </Announcement>
        ) : (
          <Form method="post" className="mt-6">
            <input type="hidden" name="intent" value="resend" />
            <button type="submit" className={ui.secondaryButton}>
              {t("resend.button")}
            </button>
          </Form>
        )}
      </div>
    );
  } else {
    body = (
      <div className={ui.card}>
        <h1 className={ui.h1}>{t("pending.title")}</h1>
        <p className="mt-3 text-lg text-slate-800">
          {t(signup ? `pending.signup_${channel}` : `pending.body_${channel}`, vars)}
        </p>
        {data.topics.length > 0 ? (
          <p className="mt-2 text-slate-700">
            {t("pending.topics", { topics: data.topics.join(", ") })}
          </p>
        ) : null}
        {actionData?.result === "error" ? (
          <Announcement
            kind="alert"
            focusKey={actionData}
            className="mt-4 rounded-lg border border-red-300 bg-red-50 p-3 text-red-900"
          >
            <p>{t("error")}</p>
          </Announcement>
        ) : null}
        <Form method="post" className="mt-6">
          <input type="hidden" name="intent" value="confirm" />
          <button type="submit" className={ui.primaryButton}>
            {t("pending.button")}
          </button>
        </Form>
        <p className="mt-6 text-sm text-slate-600">{t("pending.notYou")}</p>
      </div>
    );
  }
  return <PublicLayout branding={data.branding}>{body}</PublicLayout>;
}
