import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { countOutbox, listOutbox } from "~/outbox/outbox.server";
import { NO_STORE } from "~/http/headers";
import { requireDevPageAccess } from "~/http/dev-access.server";

/**
 * /dev/outbox: every message Heed queued (mail, SMS, webhooks), newest first, as the development
 * stand-in for a mailbox when SMTP_URL is not set. Does not exist in production; in development
 * only for this machine or a logged-in admin (app/http/dev-access.server.ts).
 */

export const meta: MetaFunction = () => [{ title: "Development outbox – Heed" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireDevPageAccess(request, context);
  const env = getEnv();
  const url = new URL(request.url);
  const to = url.searchParams.get("to")?.trim().toLowerCase() || null;
  const db = getDb();
  const [messages, counts] = await Promise.all([
    listOutbox(db, { limit: 200, recipient: to ?? undefined }),
    countOutbox(db),
  ]);
  return json(
    {
      smtp: Boolean(env.SMTP_URL),
      counts,
      to,
      messages: messages.map((m) => ({
        id: m.id,
        kind: m.kind,
        recipient: m.recipient,
        status: m.status,
        attempts: m.attempts,
        title: m.title,
        createdAt: m.createdAt.toISOString(),
      })),
    },
    { headers: NO_STORE },
  );
}

const STATUS_CLASS: Record<string, string> = {
  pending: "bg-amber-100 text-amber-900",
  sending: "bg-sky-100 text-sky-900",
  sent: "bg-emerald-100 text-emerald-900",
  dead: "bg-red-100 text-red-900",
  expired: "bg-slate-200 text-slate-800",
};

export default function DevOutbox() {
  const data = useLoaderData<typeof loader>();
  return (
    <main className="mx-auto max-w-5xl px-4 py-8">
      <h1 className="text-2xl font-semibold">Development outbox</h1>
      <p className="mt-2 text-slate-700">
        {data.smtp
          ? "SMTP_URL is set: email goes to the SMTP server; this page still lists what was queued."
          : "SMTP_URL is not set: email is not sent anywhere. Open a message to read it and follow its links."}{" "}
        Pending {data.counts.pending} · sending {data.counts.sending} · sent {data.counts.sent} ·
        dead {data.counts.dead} · expired {data.counts.expired}
      </p>
      <form method="get" className="mt-4 flex flex-wrap items-end gap-2">
        <div>
          <label htmlFor="to" className="block text-sm font-medium">
            Recipient contains
          </label>
          <input
            id="to"
            name="to"
            defaultValue={data.to ?? ""}
            className="mt-1 rounded border border-slate-400 px-2 py-1"
          />
        </div>
        <button type="submit" className="rounded border border-slate-400 bg-white px-3 py-1">
          Filter
        </button>
      </form>
      {data.messages.length === 0 ? (
        <p className="mt-6 text-slate-700">No messages.</p>
      ) : (
        <ul className="mt-6 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
          {data.messages.map((m) => (
            <li key={m.id} className="p-3">
              {/* A full page load: the message's styles need the server-rendered CSP nonce. */}
              <a href={`/dev/outbox/${m.id}`} className="block hover:bg-slate-50">
                <span className="flex flex-wrap items-center gap-2 text-sm text-slate-600">
                  <span className="font-mono">#{m.id}</span>
                  <span>{m.kind}</span>
                  <span
                    className={`rounded px-1.5 py-0.5 text-xs font-medium ${STATUS_CLASS[m.status] ?? ""}`}
                  >
                    {m.status}
                  </span>
                  <time dateTime={m.createdAt}>
                    {m.createdAt.replace("T", " ").slice(0, 19)} UTC
                  </time>
                </span>
                <span className="mt-1 block break-all font-medium text-slate-900">
                  {m.recipient}
                </span>
                <span className="block break-words text-blue-800 underline">
                  {m.title ?? "(no subject)"}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
