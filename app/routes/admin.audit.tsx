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

function detailText(details: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(details)) {
    if (k === "ledgerIds") continue;
    if (k === "targets" && Array.isArray(v)) {
      parts.push(
        (v as { channel: string; address: string; changed: boolean }[])
          .map((t) => `${t.channel} ${t.address}${t.changed ? "" : " (no change)"}`)
          .join(", "),
      );
      continue;
    }
    parts.push(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  return parts.join(" · ");
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
                  <td className="px-3 py-2 break-all">{e.actorLabel ?? e.actorType}</td>
                  <td className="px-3 py-2 font-medium">
                    <code>{e.action}</code>
                  </td>
                  <td className="px-3 py-2">{targetLink(e.targetType, e.targetId)}</td>
                  <td className="max-w-md px-3 py-2 text-slate-800 break-words">
                    {detailText(e.details)}
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
