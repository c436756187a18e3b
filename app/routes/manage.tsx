import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { getDb } from "~/db/db.server";
import { clientInfo } from "~/http/request.server";
import { getFixedT, negotiateLocale } from "~/i18n/i18n.server";
import { useT } from "~/i18n/react";
import { addressKind, requestPreferencesLink } from "~/mail/preferences-link.server";
import { publicPageData, readForm } from "~/recipient/page.server";
import { displayAddress } from "~/recipient/recipient.server";
import { Announcement, useFocusOnChange, useSettledActionData } from "~/ui/announce";
import { PublicLayout, ui } from "~/ui/public-layout";
import { NO_STORE } from "~/http/headers";

/**
 * /manage: "send me my link" (docs/recipient-pages.md). A person enters an email address or a
 * phone number; if Heed knows it, a fresh preferences link is mailed, or texted through the SMS
 * outbox. The answer is the same either way (nobody can learn who is on
 * the list), bots filling the hidden honeypot field get that same answer and nothing is sent, and
 * database-kept limits per address and per IP stop the form from flooding an inbox (see
 * MANAGE_LIMITS in app/mail/preferences-link.server.ts).
 */

/** The honeypot: hidden from people, filled by form-spamming bots. */
const HONEYPOT = "website";

export const headers = () => NO_STORE;

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.title ?? "Manage your subscriptions" },
];

async function page(request: Request) {
  const locale = negotiateLocale(request);
  const data = await publicPageData(getDb(), locale, ["manage"]);
  return {
    ...data,
    title: getFixedT(locale, "manage")("meta.title", {
      organization: data.branding.organizationName,
    }),
  };
}

export async function loader({ request }: LoaderFunctionArgs) {
  return json(await page(request), { headers: NO_STORE });
}

const FormSchema = z.object({
  address: z.string().trim().min(3).max(320),
  [HONEYPOT]: z.string().max(1000).optional(),
});

type ActionResult =
  | { result: "sent"; channel: "email" | "sms"; address: string }
  | { result: "invalid"; error: "address" | "phone"; address: string }
  | { result: "rate_limited" };

/** Reads `address`, or `email` (the field of the token error page's form). */
function field(form: FormData | null): string | undefined {
  const v = form?.get("address") ?? form?.get("email");
  return typeof v === "string" ? v : undefined;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const reply = (body: ActionResult, status = 200, extra: Record<string, string> = {}) =>
    json(body, { status, headers: { ...NO_STORE, ...extra } });
  const form = await readForm(request);
  const raw = field(form);
  const parsed = FormSchema.safeParse({
    address: raw,
    [HONEYPOT]: form?.get(HONEYPOT) ?? undefined,
  });
  if (!parsed.success) {
    return reply({ result: "invalid", error: "address", address: (raw ?? "").slice(0, 320) }, 400);
  }
  const { address } = parsed.data;
  if (parsed.data[HONEYPOT]) {
    return reply({
      result: "sent",
      channel: addressKind(address) === "phone" ? "sms" : "email",
      address,
    });
  }

  const res = await requestPreferencesLink(getDb(), {
    address,
    ip: clientInfo(request, context).ip,
    locale: negotiateLocale(request),
  });
  if (res.status === "invalid_email") {
    return reply({ result: "invalid", error: "address", address }, 400);
  }
  if (res.status === "invalid_phone") {
    return reply({ result: "invalid", error: "phone", address }, 400);
  }
  if (res.status === "rate_limited") {
    return reply({ result: "rate_limited" }, 429, { "Retry-After": String(res.retryAfterSeconds) });
  }
  return reply({
    result: "sent",
    channel: res.channel,
    address: res.channel === "sms" ? displayAddress("sms", res.address) : res.address,
  });
}

export default function ManagePage() {
  const data = useLoaderData<typeof loader>();
  const actionData = useSettledActionData<typeof action>();
  const t = useT("manage");
  const invalid = actionData?.result === "invalid" ? actionData : null;
  const inputRef = useFocusOnChange<HTMLInputElement>(invalid);

  let body;
  if (actionData?.result === "sent") {
    const phone = actionData.channel === "sms";
    body = (
      <Announcement focusKey={actionData} className={ui.card} testId="manage-outcome">
        <h1 className={ui.h1}>{t(phone ? "sentTitlePhone" : "sentTitle")}</h1>
        <p className="mt-3 text-slate-800">
          {t(phone ? "sentBodyPhone" : "sentBody", { address: actionData.address })}
        </p>
        <p className="mt-6">
          <a className={ui.link} href="/manage">
            {t("another")}
          </a>
        </p>
      </Announcement>
    );
  } else if (actionData?.result === "rate_limited") {
    body = (
      <Announcement kind="alert" focusKey={actionData} className={ui.card} testId="manage-outcome">
        <h1 className={ui.h1}>{t("rateLimitedTitle")}</h1>
        <p className="mt-3 text-slate-800">{t("rateLimited")}</p>
      </Announcement>
    );
  } else {
    body = (
      <div className={ui.card}>
        <h1 className={ui.h1}>{t("title")}</h1>
        <p className="mt-3 text-slate-700">{t("intro")}</p>
        <Form method="post" className="mt-6 space-y-4" noValidate>
          <div>
            <label htmlFor="manage-address" className="block font-medium text-slate-900">
              {t("addressLabel")}
            </label>
            <p id="manage-address-hint" className="text-sm text-slate-600">
              {t("addressHint")}
            </p>
            <input
              ref={inputRef}
              id="manage-address"
              name="address"
              type="text"
              required
              maxLength={320}
              autoComplete="email"
              autoCapitalize="none"
              spellCheck={false}
              defaultValue={invalid ? invalid.address : undefined}
              aria-invalid={invalid ? true : undefined}
              aria-describedby={
                invalid ? "manage-address-error manage-address-hint" : "manage-address-hint"
              }
              className={ui.input}
            />
            {invalid ? (
              <p id="manage-address-error" role="alert" className="mt-2 text-red-800">
                {t(invalid.error === "phone" ? "invalidPhone" : "invalidAddress")}
              </p>
            ) : null}
          </div>
          <div className="hidden" aria-hidden="true">
            <label htmlFor="manage-website">{t("honeypotLabel")}</label>
            <input
              id="manage-website"
              name={HONEYPOT}
              type="text"
              tabIndex={-1}
              autoComplete="off"
            />
          </div>
          <button type="submit" className={ui.primaryButton}>
            {t("submit")}
          </button>
        </Form>
        <p className="mt-6 text-sm text-slate-600">{t("privacy")}</p>
      </div>
    );
  }
  return <PublicLayout branding={data.branding}>{body}</PublicLayout>;
}
