import { channelLabel, reasonLabel, sourceLabel } from "~/consent/labels";
import { StatusBadge, Time } from "~/admin/ui/components";

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

const TOPIC_STATE_LABEL: Record<string, string> = {
  opted_in: "opted in",
  opted_out: "opted out",
  default_in: "in (default)",
  default_out: "not opted in (default off)",
};

export function ChannelStatus({ s }: { s: Pick<ChannelStateView, "status" | "pausedUntil"> }) {
  if (s.status === "unsubscribed") return <StatusBadge status="unsubscribed" />;
  if (s.status === "pending") return <StatusBadge status="pending" />;
  if (s.pausedUntil) {
    return (
      <span>
        <StatusBadge status="paused" />{" "}
        <span className="text-xs text-slate-700">
          until <Time value={s.pausedUntil} />
        </span>
      </span>
    );
  }
  if (s.status === "subscribed") return <StatusBadge status="subscribed" />;
  return (
    <span>
      <StatusBadge status="subscribed" />{" "}
      <span className="text-xs text-slate-700">(nothing recorded)</span>
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
  if (states.length === 0) return <p className="text-slate-700">No addresses.</p>;
  return (
    // Focusable, so that keyboard users can scroll the table on a narrow screen.
    <div className="overflow-x-auto" tabIndex={0}>
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-left text-slate-700">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              Channel
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Address
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              State
            </th>
            <th scope="col" className="py-2 font-medium">
              Topics
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {states.map((s) => (
            <tr key={s.channel} data-channel={s.channel}>
              <th scope="row" className="py-2 pr-3 text-left font-medium">
                {channelLabel(s.channel)}
              </th>
              <td className="min-w-[10rem] py-2 pr-3 break-words">{s.address}</td>
              <td className="min-w-[10rem] py-2 pr-3">
                <ChannelStatus s={s} />
                {s.pending ? (
                  <div className="mt-1 text-xs text-amber-900" data-testid="pending-confirmation">
                    <StatusBadge status="pending" /> Confirmation sent{" "}
                    <Time value={s.pending.requestedAt} />, waiting for the person (until{" "}
                    <Time value={s.pending.expiresAt} />)
                  </div>
                ) : null}
              </td>
              <td className="min-w-[16rem] py-2">
                {s.topics.length === 0 ? (
                  <span className="text-slate-600">—</span>
                ) : (
                  <ul className="flex flex-wrap gap-x-3 gap-y-1">
                    {s.topics.map((t) => (
                      <li key={t.key} className="text-slate-800">
                        {t.name}:{" "}
                        <span
                          className={
                            t.state === "opted_out" || t.state === "default_out"
                              ? "text-red-800"
                              : "text-green-800"
                          }
                        >
                          {TOPIC_STATE_LABEL[t.state] ?? t.state}
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

const ACTION_LABEL: Record<string, string> = {
  unsubscribe: "Unsubscribed",
  subscribe: "Subscribed",
  pause: "Paused",
  resume: "Resumed",
  topic_opt_out: "Topic opt-out",
  topic_opt_in: "Topic opt-in",
  signup_pending: "Sign-up pending",
  erase: "Erased",
  // Not consent: an email address that bounced for good, and an agent clearing that mark.
  undeliverable: "Marked undeliverable",
  undeliverable_cleared: "Undeliverable mark cleared",
};

function who(e: TimelineView): string {
  if (e.actorLabel) return e.actorLabel;
  if (e.actorType === "admin_user") return "admin user (deleted)";
  if (e.actorType === "api_key") return "API key (deleted)";
  if (e.actorType) return e.actorType;
  // Imported and system rows have no actor: the source says who.
  if (e.source === "import" || e.source === "system") return sourceLabel(e.source);
  return "recipient";
}

export function Timeline({ entries, caption }: { entries: TimelineView[]; caption: string }) {
  if (entries.length === 0) return <p className="text-slate-700">Nothing recorded yet.</p>;
  return (
    // Focusable, so that keyboard users can scroll the table on a narrow screen.
    <div className="overflow-x-auto" tabIndex={0}>
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-left text-slate-700">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">
              When
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              What
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Source
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Reason / note
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Campaign
            </th>
            <th scope="col" className="py-2 pr-3 font-medium">
              Who
            </th>
            <th scope="col" className="py-2 font-medium">
              IP
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
                <span className="font-medium">{ACTION_LABEL[e.action] ?? e.action}</span>{" "}
                <span className="text-slate-700">· {channelLabel(e.channel)}</span>
                {e.topic ? <span className="text-slate-700"> · topic {e.topic}</span> : null}
                {e.pausedUntil ? (
                  <span className="text-slate-700">
                    {" "}
                    · until <Time value={e.pausedUntil} />
                  </span>
                ) : null}
                {e.address ? (
                  <div className="break-all text-xs text-slate-600">{e.address}</div>
                ) : null}
              </td>
              <td className="min-w-[7rem] py-2 pr-3 text-slate-800">{sourceLabel(e.source)}</td>
              <td className="py-2 pr-3 text-slate-800">
                {e.reasonCode ? <div title={e.reasonCode}>{reasonLabel(e.reasonCode)}</div> : null}
                {e.reasonText ? (
                  <div className="whitespace-pre-wrap break-words">“{e.reasonText}”</div>
                ) : null}
                {e.note ? (
                  <div className="whitespace-pre-wrap break-words text-slate-700">
                    <span className="font-medium">Note:</span> {e.note}
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
