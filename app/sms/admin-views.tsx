import { Time } from "~/admin/ui/components";
import { useConsentLabels } from "~/admin/ui/labels";
import { useT } from "~/i18n/react";

/** Admin views of inbound SMS/WhatsApp messages (the contact page, the review queue). */

export type InboundView = {
  id: number;
  receivedAt: string;
  channel: string;
  provider: string;
  body: string | null;
  buttonPayload: string | null;
  decision: string;
  matched: string | null;
  by: string | null;
  replays: number;
  reviewedAt: string | null;
  reviewedBy: string | null;
  reply: { status: string; body: string | null; lastError: string | null } | null;
  providerAnswered: boolean;
};

const PROVIDER_LABEL: Record<string, string> = {
  twilio: "Twilio",
  vonage: "Vonage",
  plivo: "Plivo",
  telnyx: "Telnyx",
  meta: "WhatsApp Cloud API",
};

export const DECISION_LABEL: Record<string, string> = {
  applied: "Applied",
  unchanged: "Applied (no change)",
  review: "Waiting for review",
  dismissed: "Dismissed by an agent",
  help: "Help reply",
  ignored: "Ignored",
  received: "Received",
};

const DECISION_STYLE: Record<string, string> = {
  applied: "bg-red-100 text-red-900 ring-red-300",
  review: "bg-amber-100 text-amber-900 ring-amber-300",
  help: "bg-sky-100 text-sky-900 ring-sky-300",
};

const BY_LABEL: Record<string, string> = {
  keyword: "keyword",
  provider: "the provider's opt-out type",
  phrase: "clear request",
  contains: "stop word",
};

export const providerLabel = (p: string) => PROVIDER_LABEL[p] ?? p;

/** On a contact's page; its words are `admin:inbound.*` (the admin page's language). */
export function InboundMessages({ entries }: { entries: InboundView[] }) {
  const t = useT("admin");
  const labels = useConsentLabels();
  if (entries.length === 0) {
    return <p className="text-slate-700">{t("inbound.none")}</p>;
  }
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{t("inbound.caption")}</caption>
        <thead className="text-left text-slate-700">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.when")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("inbound.columns.message")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("inbound.columns.decision")}
            </th>
            <th scope="col" className="py-2 font-medium">
              {t("inbound.columns.reply")}
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {entries.map((e) => (
            <tr key={e.id} data-inbound-id={e.id} className="align-top">
              <td className="whitespace-nowrap py-2 pr-3 text-slate-700">
                <Time value={e.receivedAt} />
                <div className="text-xs text-slate-600">
                  {labels.channel(e.channel)} · {providerLabel(e.provider)}
                </div>
              </td>
              <td className="py-2 pr-3 text-slate-900">
                {e.body ? (
                  <div className="whitespace-pre-wrap break-words">“{e.body}”</div>
                ) : (
                  <span className="text-slate-500">{t("inbound.noText")}</span>
                )}
                {e.buttonPayload ? (
                  <div className="text-xs text-slate-600">
                    {t("inbound.button")} {e.buttonPayload}
                  </div>
                ) : null}
                {e.replays > 0 ? (
                  <div className="text-xs text-slate-600">
                    {t("inbound.replays", { count: e.replays })}
                  </div>
                ) : null}
              </td>
              <td className="py-2 pr-3">
                <span
                  className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${DECISION_STYLE[e.decision] ?? "bg-slate-100 text-slate-800 ring-slate-300"}`}
                >
                  {t(`inbound.decisions.${e.decision}`, {
                    defaultValue: DECISION_LABEL[e.decision] ?? e.decision,
                  })}
                </span>
                {e.by && BY_LABEL[e.by] ? (
                  <div className="text-xs text-slate-600">
                    {t("inbound.why")} {t(`inbound.by.${e.by}`, { defaultValue: BY_LABEL[e.by] })}
                    {e.matched ? ` “${e.matched}”` : ""}
                  </div>
                ) : null}
                {e.reviewedAt ? (
                  <div className="text-xs text-slate-600">
                    {t("inbound.reviewed")} <Time value={e.reviewedAt} />
                    {e.reviewedBy ? ` ${t("inbound.reviewedBy", { name: e.reviewedBy })}` : ""}
                  </div>
                ) : null}
              </td>
              <td className="py-2 text-slate-800">
                {e.reply ? (
                  <>
                    <span className="text-xs font-medium uppercase text-slate-700">
                      {t(`inbound.replyStatus.${e.reply.status}`, { defaultValue: e.reply.status })}
                    </span>
                    {e.reply.body ? (
                      <div className="whitespace-pre-wrap break-words">{e.reply.body}</div>
                    ) : null}
                    {e.reply.status !== "sent" && e.reply.lastError ? (
                      <div className="text-xs text-slate-600">{e.reply.lastError}</div>
                    ) : null}
                  </>
                ) : e.providerAnswered ? (
                  <span className="text-slate-700">{t("inbound.providerAnswered")}</span>
                ) : (
                  <span className="text-slate-500">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
