import { StatusBadge, Time } from "~/admin/ui/components";
import { useConsentLabels } from "~/admin/ui/labels";
import { useT } from "~/i18n/react";

/** Views shared by the contact page and the address (suppressions) page. */

export type ChannelStateView = {
  channel: string;
  address: string;
  status: string | null;
  pausedUntil: string | null;
  topics: { key: string; name: string; state: string }[];
  /** A double opt-in waiting for the person's confirmation. */
  pending?: { requestedAt: string; expiresAt: string } | null;
};

export type TimelineView = {
  id: number;
  occurredAt: string;
  channel: string;
  address: string | null;
  topic: string | null;
  action: string;
  source: string;
  campaign: string | null;
  reasonCode: string | null;
  reasonText: string | null;
  note: string | null;
  actorType: string | null;
  actorId: string | null;
  actorLabel: string | null;
  ip: string | null;
  userAgent: string | null;
  pausedUntil: string | null;
};

export function ChannelStatus({ s }: { s: Pick<ChannelStateView, "status" | "pausedUntil"> }) {
  const t = useT("admin");
  if (s.status === "unsubscribed") return <StatusBadge status="unsubscribed" />;
  if (s.status === "pending") return <StatusBadge status="pending" />;
  if (s.pausedUntil) {
    return (
      <span>
        <StatusBadge status="paused" />{" "}
        <span className="text-xs text-slate-700">
          {t("consent.until")} <Time value={s.pausedUntil} />
        </span>
      </span>
    );
  }
  if (s.status === "subscribed") return <StatusBadge status="subscribed" />;
  return (
    <span>
      <StatusBadge status="subscribed" />{" "}
      <span className="text-xs text-slate-700">{t("consent.nothingRecorded")}</span>
    </span>
  );
}

export function ChannelStates({
  states,
  caption,
}: {
  states: ChannelStateView[];
  caption: string;
}) {
  const t = useT("admin");
  const labels = useConsentLabels();
  if (states.length === 0) return <p className="text-slate-700">{t("consent.noAddresses")}</p>;
  return (
    // Focusable, so that keyboard users can scroll the table on a narrow screen.
    <div className="overflow-x-auto" tabIndex={0}>
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-left text-slate-700">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.channel")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.address")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.state")}
            </th>
            <th scope="col" className="py-2 font-medium">
              {t("consent.columns.topics")}
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {states.map((s) => (
            <tr key={s.channel} data-channel={s.channel}>
              <th scope="row" className="py-2 pr-3 text-left font-medium">
                {labels.channel(s.channel)}
              </th>
              <td className="min-w-[10rem] py-2 pr-3 break-words">{s.address}</td>
              <td className="min-w-[10rem] py-2 pr-3">
                <ChannelStatus s={s} />
                {s.pending ? (
                  <div className="mt-1 text-xs text-amber-900" data-testid="pending-confirmation">
                    <StatusBadge status="pending" /> {t("consent.pendingSent")}{" "}
                    <Time value={s.pending.requestedAt} />
                    {t("consent.pendingWaiting")} <Time value={s.pending.expiresAt} />
                    {t("consent.pendingEnd")}
                  </div>
                ) : null}
              </td>
              <td className="min-w-[16rem] py-2">
                {s.topics.length === 0 ? (
                  <span className="text-slate-600">—</span>
                ) : (
                  <ul className="flex flex-wrap gap-x-3 gap-y-1">
                    {s.topics.map((topic) => (
                      <li key={topic.key} className="text-slate-800">
                        {topic.name}:{" "}
                        <span
                          className={
                            topic.state === "opted_out" || topic.state === "default_out"
                              ? "text-red-800"
                              : "text-green-800"
                          }
                        >
                          {labels.topicState(topic.state)}
                        </span>
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function useWho(): (e: TimelineView) => string {
  const t = useT("admin");
  const labels = useConsentLabels();
  return (e) => {
    if (e.actorLabel) return e.actorLabel;
    if (e.actorType === "admin_user") return t("consent.who.deletedUser");
    if (e.actorType === "api_key") return t("consent.who.deletedKey");
    if (e.actorType) return t(`consent.who.${e.actorType}`, { defaultValue: e.actorType });
    // Imported and system rows have no actor: the source says who.
    if (e.source === "import" || e.source === "system") return labels.source(e.source);
    return t("consent.who.recipient");
  };
}

export function Timeline({ entries, caption }: { entries: TimelineView[]; caption: string }) {
  const t = useT("admin");
  const labels = useConsentLabels();
  const who = useWho();
  if (entries.length === 0) return <p className="text-slate-700">{t("consent.nothingYet")}</p>;
  return (
    // Focusable, so that keyboard users can scroll the table on a narrow screen.
    <div className="overflow-x-auto" tabIndex={0}>
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-left text-slate-700">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.when")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.what")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.source")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.reasonNote")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.campaign")}
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              {t("consent.columns.who")}
            </th>
            <th scope="col" className="py-2 font-medium">
              {t("consent.columns.ip")}
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {entries.map((e) => (
            <tr key={e.id} data-ledger-id={e.id} className="align-top">
              <td className="whitespace-nowrap py-2 pr-3 text-slate-700">
                <Time value={e.occurredAt} />
              </td>
              <td className="py-2 pr-3">
                <span className="font-medium">{labels.action(e.action)}</span>{" "}
                <span className="text-slate-700">· {labels.channel(e.channel)}</span>
                {e.topic ? (
                  <span className="text-slate-700">
                    {" "}
                    · {t("consent.topic")} {e.topic}
                  </span>
                ) : null}
                {e.pausedUntil ? (
                  <span className="text-slate-700">
                    {" "}
                    · {t("consent.until")} <Time value={e.pausedUntil} />
                  </span>
                ) : null}
                {e.address ? (
                  <div className="break-all text-xs text-slate-600">{e.address}</div>
                ) : null}
              </td>
              <td className="min-w-[7rem] py-2 pr-3 text-slate-800">{labels.source(e.source)}</td>
              <td className="py-2 pr-3 text-slate-800">
                {e.reasonCode ? (
                  <div title={e.reasonCode}>{labels.reason(e.reasonCode)}</div>
                ) : null}
                {e.reasonText ? (
                  <div className="whitespace-pre-wrap break-words">“{e.reasonText}”</div>
                ) : null}
                {e.note ? (
                  <div className="whitespace-pre-wrap break-words text-slate-700">
                    <span className="font-medium">{t("consent.note")}</span> {e.note}
                  </div>
                ) : null}
                {!e.reasonCode && !e.reasonText && !e.note ? (
                  <span className="text-slate-500">—</span>
                ) : null}
              </td>
              <td className="py-2 pr-3 text-slate-800">{e.campaign ?? "—"}</td>
              <td className="min-w-[8rem] py-2 pr-3 text-slate-800 break-words">{who(e)}</td>
              <td className="py-2 text-slate-700" title={e.userAgent ?? undefined}>
                {e.ip ?? "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
