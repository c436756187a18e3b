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
import { getDb } from "~/db/db.server";
import { NO_STORE } from "~/http/headers";
import { idCursor } from "~/http/cursor";

export const meta: MetaFunction = () => [{ title: "Audit log · Heed admin" }];

const PAGE_SIZE = 50;

export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
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
  return json({ filter, before, ...page }, { headers: NO_STORE });
}

/** "ledgerIds" → "Ledger ids", "unsubscribeConfirmation" → "Unsubscribe confirmation". */
function keyLabel(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_.]+/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function valueText(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.map(valueText).join(", ");
  if (typeof v === "object" && "from" in v && "to" in v) {
    const c = v as { from: unknown; to: unknown };
    return `${valueText(c.from)} → ${valueText(c.to)}`;
  }
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${keyLabel(k)}: ${valueText(x)}`)
    .join("; ");
}

/** An entry's details as a readable list: one line per field, changes as "from → to". */
function Details({ details }: { details: Record<string, unknown> }) {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(details)) {
    if (k === "ledgerIds") continue;
    if (k === "targets" && Array.isArray(v)) {
      rows.push([
        "Addresses",
        (v as { channel: string; address: string; changed: boolean }[])
          .map((t) => `${t.channel} ${t.address}${t.changed ? "" : " (no change)"}`)
          .join(", "),
      ]);
    } else if (k === "changes" && v && typeof v === "object" && !Array.isArray(v)) {
      for (const [field, change] of Object.entries(v as Record<string, unknown>)) {
        rows.push([keyLabel(field), valueText(change)]);
      }
    } else {
      rows.push([keyLabel(k), valueText(v)]);
    }
  }
  if (rows.length === 0) return <span className="text-slate-500">—</span>;
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-2 gap-y-0.5">
      {rows.map(([k, v], i) => (
        <div key={`${k}-${i}`} className="contents">
          <dt className="text-slate-600">{k}</dt>
          <dd className="break-words">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function targetLink(type: string | null, id: string | null) {
  if (!type || !id) return <span className="text-slate-500">—</span>;
  if (type === "contact") {
    return (
      <Link className={buttonClass.link} to={`/admin/contacts/${id}`}>
        contact
      </Link>
    );
  }
  if (type === "topic") {
    return (
      <Link className={buttonClass.link} to={`/admin/topics/${id}`}>
        topic {id}
      </Link>
    );
  }
  return (
    <span>
      {type.replace(/_/g, " ")}{" "}
      <span className="text-xs text-slate-600 break-all">
        {id.length > 24 ? `${id.slice(0, 12)}…` : id}
      </span>
    </span>
  );
}

export default function AuditLog() {
  const { filter, entries, nextBefore, before } = useLoaderData<typeof loader>();
  const query = (extra: Record<string, string>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v) p.set(k, v);
    const s = p.toString();
    return s ? `/admin/audit?${s}` : "/admin/audit";
  };
  return (
    <div>
      <PageHeader
        title="Audit log"
        description="Every operator action: who, what, when and from where. Newest first."
      />
      <Form
        method="get"
        className="mb-6 grid gap-3 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-4"
      >
        <div>
          <label htmlFor="f-action" className={labelClass}>
            Action starts with
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
            Who (email)
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
            Target id
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
            Filter
          </button>
          <Link to="/admin/audit" className={buttonClass.secondary}>
            Clear
          </Link>
        </div>
      </Form>

      {entries.length === 0 ? (
        <p className="text-slate-700">No entries.</p>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">Audit log entries</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2 font-medium">
                  When
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Who
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Action
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Target
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  Details
                </th>
                <th scope="col" className="px-3 py-2 font-medium">
                  From
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {entries.map((e) => (
                <tr key={e.id} className="align-top" data-audit-action={e.action}>
                  <td className="whitespace-nowrap px-3 py-2 text-slate-700">
                    <Time value={e.occurredAt} />
                  </td>
                  <td className="min-w-[12rem] px-3 py-2 break-words">
                    {e.actorLabel ?? e.actorType}
                  </td>
                  <td className="whitespace-nowrap px-3 py-2 font-medium">
                    <code>{e.action}</code>
                  </td>
                  <td className="px-3 py-2">{targetLink(e.targetType, e.targetId)}</td>
                  <td className="min-w-[16rem] max-w-md px-3 py-2 text-slate-800">
                    <Details details={e.details} />
                  </td>
                  <td className="px-3 py-2 text-slate-700" title={e.userAgent ?? undefined}>
                    {e.ip ?? "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        label="Audit log pages"
        prevLabel="↑ Newest"
        nextLabel="Older →"
        prev={before ? query({}) : null}
        next={nextBefore ? query({ before: String(nextBefore) }) : null}
      />
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
