import {
  json,
  type HeadersFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import type { ReactNode } from "react";
import { operator, requireRole } from "~/admin/auth.server";
import { adminT } from "~/admin/messages.server";
import { AdminErrorBoundary } from "~/admin/ui/components";
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { DEFAULT_LOCALE } from "~/i18n/config";
import { i18nPayload, toLocale } from "~/i18n/i18n.server";
import { useLocale, useT } from "~/i18n/react";
import { exportContactData } from "~/privacy/access.server";

/**
 * Everything Heed holds about one contact (GDPR art. 15 and 20), as a page the person can read, in
 * their language (the contact's locale), for an admin to print or save and send them. Outside the
 * admin layout on purpose: it is the person's document, not an admin screen. Opening it is audited.
 */

export const headers: HeadersFunction = () => NO_STORE;

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.title ?? "Export" },
  { name: "robots", content: "noindex" },
];

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const user = await requireRole(request, "admin");
  const data = await exportContactData(
    getDb(),
    { contactId: params.id ?? "" },
    { ...operator(user, request, context), via: "admin", as: "page" },
  );
  if (!data) throw new Response(adminT(request)("contact.notFound"), { status: 404 });
  const locale = toLocale(data.contact.locale as string | null) ?? DEFAULT_LOCALE;
  const i18n = i18nPayload(locale, ["access", "labels", "recipient"]);
  const title = (i18n.resources.access as { title: string }).title;
  return json({ data, i18n, title, id: params.id! }, { headers: NO_STORE });
}

type Row = Record<string, unknown>;
const str = (v: unknown) => (v === null || v === undefined ? "" : String(v));

function Table({ caption, head, rows }: { caption: string; head: string[]; rows: ReactNode[][] }) {
  const t = useT("access");
  if (rows.length === 0) return <p className="text-sm text-slate-700">{t("none")}</p>;
  // A table from 640 px up; below, each row is a small card of label/value pairs (a wide table
  // on a phone would scroll sideways and wrap dates one word per line).
  return (
    <>
      <div className="relative hidden overflow-x-auto sm:block">
        <table className="min-w-full divide-y divide-slate-200 text-sm">
          <caption className="sr-only">{caption}</caption>
          <thead className="bg-slate-50 text-left text-slate-700">
            <tr>
              {head.map((h) => (
                <th key={h} scope="col" className="px-2 py-1.5 font-medium">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 align-top">
            {rows.map((cells, i) => (
              <tr key={i}>
                {cells.map((c, j) => (
                  <td key={j} className="break-words px-2 py-1.5 text-slate-900">
                    {c}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ul
        className="divide-y divide-slate-200 border-y border-slate-200 sm:hidden"
        aria-label={caption}
      >
        {rows.map((cells, i) => (
          <li key={i} className="py-2">
            <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-sm">
              {cells.map((c, j) => (
                <div key={j} className="contents">
                  <dt className="text-slate-700">{head[j]}</dt>
                  <dd className="min-w-0 break-words text-slate-900">{c}</dd>
                </div>
              ))}
            </dl>
          </li>
        ))}
      </ul>
    </>
  );
}

function Part({ title, id, children }: { title: string; id: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="mb-8 break-inside-avoid-page">
      <h2 id={id} className="mb-2 border-b border-slate-300 pb-1 text-lg font-semibold">
        {title}
      </h2>
      {children}
    </section>
  );
}

export default function SubjectExportPage() {
  const { data, id } = useLoaderData<typeof loader>();
  const t = useT("access");
  const tc = useT("common");
  const tl = useT("labels");
  const locale = useLocale();
  const date = (v: unknown) =>
    v
      ? new Intl.DateTimeFormat(locale, {
          dateStyle: "medium",
          timeStyle: "short",
          timeZone: "UTC",
        }).format(new Date(String(v))) + " UTC"
      : "";
  const channel = (c: unknown) => tc(`channels.${str(c)}`);
  const topicName = (key: unknown) => {
    const names = data.topicNames[str(key)];
    return names?.[locale] ?? names?.en ?? str(key);
  };
  const tr = useT("recipient");
  // The operator's label for the reason, else Heed's own (the preference page's words).
  const reasonName = (code: unknown) => {
    const names = data.reasonNames[str(code)];
    return names?.[locale] || tr(`reasons.${str(code)}`, { defaultValue: names?.en || str(code) });
  };
  const address = (v: unknown) => (v ? str(v) : t("erasedAddress"));
  const evidence = (r: Row) =>
    [
      r.topic ? topicName(r.topic) : null,
      r.campaign ? t("evidence.campaign", { campaign: str(r.campaign) }) : null,
      r.reason_code || r.reason_text
        ? t("evidence.reason", {
            reason: r.reason_text ? str(r.reason_text) : reasonName(r.reason_code),
          })
        : null,
      r.paused_until ? t("evidence.until", { date: date(r.paused_until) }) : null,
      r.ip ? t("evidence.ip", { ip: str(r.ip) }) : null,
      r.user_agent ? t("evidence.userAgent", { userAgent: str(r.user_agent) }) : null,
    ]
      .filter(Boolean)
      .join(" · ");
  const c = data.contact;

  return (
    <main className="mx-auto max-w-4xl bg-white px-4 py-8 text-slate-900 sm:px-8">
      <h1 className="text-2xl font-semibold">{t("title")}</h1>
      <p className="mt-2 text-sm text-slate-800">{t("intro")}</p>
      <p className="mt-1 text-sm text-slate-700">
        {t("generated", { date: date(data.generatedAt) })}
      </p>
      <p className="mb-8 mt-1 text-sm text-slate-700 print:hidden">
        {t("machineReadable")}{" "}
        <a
          className="font-medium text-blue-800 underline"
          href={`/admin/contacts/${id}/export.json`}
          download
        >
          JSON
        </a>
      </p>

      <Part title={t("sections.contact")} id="contact">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-2">
          {(
            [
              ["externalId", c.external_id],
              ["email", c.email],
              ["phone", c.phone],
              ["language", c.locale],
              ["createdAt", date(c.created_at)],
            ] as const
          ).map(([k, v]) => (
            <div key={k}>
              <dt className="text-slate-700">{t(`fields.${k}`)}</dt>
              <dd className="font-medium">{str(v) || "—"}</dd>
            </div>
          ))}
        </dl>
      </Part>

      <Part title={t("sections.addresses")} id="addresses">
        <Table
          caption={t("sections.addresses")}
          head={[t("fields.channel"), t("fields.address"), t("fields.status"), t("fields.topics")]}
          rows={data.addresses.map((a) => [
            channel(a.channel),
            address(a.address),
            <>
              {t(`status.${a.status ?? "none"}`)}
              {a.pausedUntil ? (
                <div className="text-xs">{t("status.paused", { date: date(a.pausedUntil) })}</div>
              ) : null}
              {a.undeliverable ? <div className="text-xs">{t("status.undeliverable")}</div> : null}
            </>,
            a.topics
              .map((r) => t(`topic.${str(r.status)}`, { topic: topicName(r.topic) }))
              .join(", "),
          ])}
        />
      </Part>

      <Part title={t("sections.frequency")} id="frequency">
        {data.frequency.length ? (
          <Table
            caption={t("sections.frequency")}
            head={[t("fields.channel"), t("fields.address"), t("fields.details")]}
            rows={data.frequency.map((r) => {
              const labels = (r.option_labels ?? {}) as Record<string, string>;
              const a = data.addresses.find(
                (x) => x.channel === r.channel && x.addressHash === r.address_hash,
              );
              return [
                channel(r.channel),
                address(a?.address),
                labels[locale] || labels.en || str(r.frequency),
              ];
            })}
          />
        ) : (
          <p className="text-sm text-slate-700">{t("frequencyNone")}</p>
        )}
      </Part>

      <Part title={t("sections.ledger")} id="ledger">
        <Table
          caption={t("sections.ledger")}
          head={[
            t("fields.date"),
            t("fields.channel"),
            t("fields.address"),
            t("fields.action"),
            t("fields.source"),
            t("fields.details"),
          ]}
          rows={data.ledger.map((r) => [
            date(r.occurred_at),
            channel(r.channel),
            address(r.address),
            t(`actions.${str(r.action)}`),
            tl(`sources.${str(r.source)}`),
            evidence(r),
          ])}
        />
      </Part>

      <Part title={t("sections.confirmations")} id="confirmations">
        <Table
          caption={t("sections.confirmations")}
          head={[t("fields.date"), t("fields.channel"), t("fields.address"), t("fields.status")]}
          rows={data.confirmations.map((r) => [
            date(r.created_at),
            channel(r.channel),
            address(r.address),
            t(`confirmationStatus.${str(r.status)}`, { date: date(r.confirmed_at) }),
          ])}
        />
      </Part>

      <Part title={t("sections.messages")} id="messages">
        <Table
          caption={t("sections.messages")}
          head={[t("fields.date"), t("fields.kind"), t("fields.address"), t("fields.status")]}
          rows={data.messages.map((r) => [
            date(r.created_at),
            str(r.recipient).startsWith("whatsapp:") ? channel("whatsapp") : channel(r.kind),
            str(r.recipient).replace(/^whatsapp:/, ""),
            t(`messageStatus.${str(r.status)}`),
          ])}
        />
      </Part>

      <Part title={t("sections.inbound")} id="inbound">
        <Table
          caption={t("sections.inbound")}
          head={[t("fields.date"), t("fields.channel"), t("fields.address"), t("fields.text")]}
          rows={data.inboundMessages.map((r) => [
            date(r.received_at),
            channel(r.channel),
            address(r.address),
            str(r.body),
          ])}
        />
      </Part>

      <Part title={t("sections.undeliverable")} id="undeliverable">
        <Table
          caption={t("sections.undeliverable")}
          head={[t("fields.date"), t("fields.channel"), t("fields.address"), t("fields.details")]}
          rows={data.undeliverableEvents.map((r) => [
            date(r.occurred_at),
            channel(r.channel),
            address(r.address),
            [str(r.action), str(r.reason), str(r.provider)].filter(Boolean).join(" · "),
          ])}
        />
      </Part>

      <Part title={t("sections.proof")} id="proof">
        {data.proof.chains.length ? (
          <>
            <p className="mb-2 text-sm text-slate-800">{t("proofIntro")}</p>
            <Table
              caption={t("sections.proof")}
              head={[t("fields.channel"), t("fields.address"), t("fields.details")]}
              rows={data.proof.chains.map((c) => {
                const a = data.addresses.find(
                  (x) => x.channel === c.channel && x.addressHash === c.addressHash,
                );
                return [
                  channel(c.channel),
                  address(a?.address),
                  <span key="h" className="break-all font-mono text-xs">
                    {t("proofChain", { rows: c.rows.length, head: c.head ?? "" })}
                  </span>,
                ];
              })}
            />
          </>
        ) : (
          <p className="text-sm text-slate-700">{t("proofNone")}</p>
        )}
      </Part>
    </main>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
