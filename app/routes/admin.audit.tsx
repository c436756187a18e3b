import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { listAudit } from "~/admin/audit.server";
import { requireRole } from "~/admin/auth.server";
import {
  AdminErrorBoundary,
  buttonClass,
  inputClass,
  labelClass,
  PageHeader,
  Pager,
  Time,
} from "~/admin/ui/components";
import { adminPageTitle } from "~/admin/page-title";
import { getDb } from "~/db/db.server";
import { LOCALES } from "~/i18n/config";
import { getFixedT, i18nPayload, negotiateLocale } from "~/i18n/i18n.server";
import type { TFunction } from "~/i18n/i18n.shared";
import { useT } from "~/i18n/react";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

export const meta: MetaFunction<typeof loader> = ({ data, matches }) => [
  { title: adminPageTitle(matches, data?.title ?? "Audit log") },
];

const PAGE_SIZE = 50;

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const locale = negotiateLocale(request);
  const url = new URL(request.url);
  const filter = {
    action: (url.searchParams.get("action") ?? "").trim().slice(0, 100),
    actor: (url.searchParams.get("actor") ?? "").trim().slice(0, 320),
    target: (url.searchParams.get("target") ?? "").trim().slice(0, 200),
  };
  const before = idCursor(url.searchParams);
  const page = await listAudit(getDb(), {
    action: filter.action || undefined,
    actor: filter.actor.toLowerCase() || undefined,
    target: filter.target || undefined,
    before,
    limit: PAGE_SIZE,
  });
  return json(
    {
      i18n: i18nPayload(locale, ["audit", "labels"]),
      title: getFixedT(locale, "audit")("title"),
      filter,
      before,
      ...page,
    },
    { headers: NO_STORE },
  );
}

/** "ledgerIds" → "Ledger ids", "unsubscribeConfirmation" → "Unsubscribe confirmation". */
function keyLabel(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_.]+/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A detail's name in the page's language: the known ones are translated, others made readable. */
function detailLabel(t: TFunction, key: string): string {
  return t(`detail.${key}`, { defaultValue: keyLabel(key) });
}

const LANGUAGE_CODES: ReadonlySet<string> = new Set(LOCALES);

function valueText(t: TFunction, v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? t("yes") : t("no");
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.length === 0 ? "—" : v.map((x) => valueText(t, x)).join(", ");
  if (typeof v === "object" && "from" in v && "to" in v) {
    const c = v as { from: unknown; to: unknown };
    return `${valueText(t, c.from)} → ${valueText(t, c.to)}`;
  }
  // One line per entry; texts by language ({"cs": …, "de": …}) named by their language code.
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => {
      const name = LANGUAGE_CODES.has(k) ? k.toUpperCase() : detailLabel(t, k);
      return `${name}: ${valueText(t, x)}`;
    })
    .join("\n");
}

/** An entry's details as a readable list: one line per field, changes as "from → to". */
function Details({ details }: { details: Record<string, unknown> }) {
  const t = useT("audit");
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(details)) {
    if (k === "ledgerIds") continue;
    if (k === "targets" && Array.isArray(v)) {
      rows.push([
        t("detail.targets"),
        (v as { channel: string; address: string; changed: boolean }[])
          .map(
            (x) =>
              // The channel's code, as the rest of the details show it (sms +4860*****01).
              `${x.channel} ${x.address}${x.changed ? "" : ` ${t("no_change")}`}`,
          )
          .join(", "),
      ]);
    } else if (k === "changes" && v && typeof v === "object" && !Array.isArray(v)) {
      for (const [field, change] of Object.entries(v as Record<string, unknown>)) {
        rows.push([detailLabel(t, field), valueText(t, change)]);
      }
    } else {
      rows.push([detailLabel(t, k), valueText(t, v)]);
    }
  }
  if (rows.length === 0) return <span className="text-slate-500">—</span>;
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-2 gap-y-0.5">
      {rows.map(([k, v], i) => (
        <div key={`${k}-${i}`} className="contents">
          <dt className="text-slate-600">{k}</dt>
          <dd className="whitespace-pre-line break-words">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function TargetLink({ type, id }: { type: string | null; id: string | null }) {
  const t = useT("audit");
  if (!type || !id) return <span className="text-slate-500">—</span>;
  if (type === "contact") {
    return (
      <Link className={buttonClass.link} to={`/admin/contacts/${id}`}>
        {t("target.contact")}
      </Link>
    );
  }
  if (type === "topic") {
    return (
      <Link className={buttonClass.link} to={`/admin/topics/${id}`}>
        {t("target.topic")} {id}
      </Link>
    );
  }
  return (
    <span>
      {t(`target.${type}`, { defaultValue: type.replace(/_/g, " ") })}{" "}
      <span className="text-xs text-slate-600 break-all">
        {id.length > 24 ? `${id.slice(0, 12)}…` : id}
      </span>
    </span>
  );
}

/** "suppression.add" → its key under `actions` (dots would nest: "login" and "login.failed" both exist). */
const actionKey = (action: string) => `actions.${action.replace(/\./g, "__")}`;

export default function AuditLog() {
  const { filter, entries, nextBefore, before } = useLoaderData<typeof loader>();
  const t = useT("audit");
  const query = (extra: Record<string, string>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v) p.set(k, v);
    const s = p.toString();
    return s ? `/admin/audit?${s}` : "/admin/audit";
  };
  return (
    <div>
      <PageHeader title={t("title")} description={t("description")} />
      <Form
        method="get"
        className="mb-6 grid gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-4"
      >
        <div>
          <label htmlFor="f-action" className={labelClass}>
            {t("filter.action")}
          </label>
          <input
            id="f-action"
            name="action"
            defaultValue={filter.action}
            placeholder="suppression"
            className={`mt-1 ${inputClass}`}
          />
        </div>
        <div>
          <label htmlFor="f-actor" className={labelClass}>
            {t("filter.actor")}
          </label>
          <input
            id="f-actor"
            name="actor"
            defaultValue={filter.actor}
            className={`mt-1 ${inputClass}`}
          />
        </div>
        <div>
          <label htmlFor="f-target" className={labelClass}>
            {t("filter.target")}
          </label>
          <input
            id="f-target"
            name="target"
            defaultValue={filter.target}
            className={`mt-1 ${inputClass}`}
          />
        </div>
        <div className="flex items-end gap-2">
          <button type="submit" className={buttonClass.primary}>
            {t("filter.submit")}
          </button>
          <Link to="/admin/audit" className={buttonClass.secondary}>
            {t("filter.clear")}
          </Link>
        </div>
      </Form>

      {entries.length === 0 ? (
        <p className="text-slate-700">{t("none")}</p>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("caption")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.when")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.who")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.action")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.target")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.details")}
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  {t("col.from")}
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {entries.map((e) => {
                const label = t(actionKey(e.action), { defaultValue: "" });
                return (
                  <tr key={e.id} className="align-top" data-audit-action={e.action}>
                    <td className="whitespace-nowrap px-3 py-2 text-slate-700">
                      <Time value={e.occurredAt} />
                    </td>
                    <td className="min-w-[12rem] px-3 py-2 break-words">
                      {e.actorLabel ??
                        t(`actor.${e.actorType}`, { defaultValue: e.actorType.replace(/_/g, " ") })}
                    </td>
                    <td className="min-w-[10rem] px-3 py-2">
                      {label ? <span className="block font-medium">{label}</span> : null}
                      <code
                        className={`whitespace-nowrap ${label ? "text-xs text-slate-600" : "font-medium"}`}
                      >
                        {e.action}
                      </code>
                    </td>
                    <td className="px-3 py-2">
                      <TargetLink type={e.targetType} id={e.targetId} />
                    </td>
                    <td className="min-w-[18rem] max-w-lg px-3 py-2 text-slate-800">
                      <Details details={e.details} />
                    </td>
                    <td className="px-3 py-2 text-slate-700" title={e.userAgent ?? undefined}>
                      {e.ip ?? "—"}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        label={t("pager.label")}
        prevLabel={t("pager.newest")}
        nextLabel={t("pager.older")}
        prev={before ? query({}) : null}
        next={nextBefore ? query({ before: String(nextBefore) }) : null}
      />
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
