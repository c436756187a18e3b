import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { getDb } from "~/db/db.server";
import { linkify, previewHtml } from "~/mail/preview.server";
import { getOutboxMessage } from "~/outbox/outbox.server";
import { useNonce } from "~/ui/nonce";
import { NO_STORE } from "~/http/headers";
import { requireDevPageAccess } from "~/http/dev-access.server";

/**
 * /dev/outbox/{id}: one queued message, rendered (the email's HTML and its plain-text part, or the
 * SMS body, or the webhook payload), with its links clickable. Does not exist in production; in
 * development only for this machine or a logged-in admin (app/http/dev-access.server.ts).
 */

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.subject ?? "Message"} – development outbox` },
];

const str = (v: unknown) => (typeof v === "string" ? v : null);

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  await requireDevPageAccess(request, context);
  const id = Number(params.id);
  const msg = Number.isSafeInteger(id) ? await getOutboxMessage(getDb(), id) : null;
  if (!msg) throw new Response("Not found", { status: 404 });
  const p = msg.payload;
  const html = msg.kind === "email" ? str(p.html) : null;
  const text = str(p.text) ?? str(p.body);
  return json(
    {
      id: msg.id,
      kind: msg.kind,
      recipient: msg.recipient,
      status: msg.status,
      attempts: msg.attempts,
      lastError: msg.lastError,
      createdAt: msg.createdAt.toISOString(),
      subject: str(p.subject),
      template: str(p.template),
      templateVersion: str(p.templateVersion),
      html: html ? previewHtml(html) : null,
      text: text ? linkify(text) : null,
      json: msg.kind === "webhook" ? JSON.stringify(p, null, 2) : null,
    },
    { headers: { ...NO_STORE, "Referrer-Policy": "no-referrer" } },
  );
}

export default function DevOutboxMessage() {
  const m = useLoaderData<typeof loader>();
  const nonce = useNonce();
  return (
    <main className="mx-auto max-w-4xl px-4 py-8">
      <p>
        <Link to="/dev/outbox" className="text-blue-800 underline">
          ← Development outbox
        </Link>
      </p>
      <h1 className="mt-3 break-words text-2xl font-semibold">
        {m.subject ?? `${m.kind} message #${m.id}`}
      </h1>
      <dl className="mt-4 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
        <dt className="font-medium">To</dt>
        <dd className="break-all">{m.recipient}</dd>
        <dt className="font-medium">Kind</dt>
        <dd>{m.kind}</dd>
        <dt className="font-medium">Status</dt>
        <dd>
          {m.status} (attempts: {m.attempts})
        </dd>
        <dt className="font-medium">Queued</dt>
        <dd>{m.createdAt.replace("T", " ").slice(0, 19)} UTC</dd>
        {m.templateVersion ? (
          <>
            <dt className="font-medium">Template</dt>
            <dd className="font-mono">{m.templateVersion}</dd>
          </>
        ) : null}
        {m.lastError ? (
          <>
            <dt className="font-medium">Last error</dt>
            <dd className="break-words text-red-800">{m.lastError}</dd>
          </>
        ) : null}
      </dl>
      {m.html ? (
        <section aria-labelledby="html-title" className="mt-6">
          <h2 id="html-title" className="text-lg font-semibold">
            HTML
          </h2>
          <style nonce={nonce} dangerouslySetInnerHTML={{ __html: m.html.css }} />
          <div
            className="heed-mail-preview mt-2 overflow-hidden rounded-lg border border-slate-300"
            dangerouslySetInnerHTML={{ __html: m.html.body }}
          />
        </section>
      ) : null}
      {m.text ? (
        <section aria-labelledby="text-title" className="mt-6">
          <h2 id="text-title" className="text-lg font-semibold">
            {m.kind === "email" ? "Plain text" : "Text"}
          </h2>
          <pre className="mt-2 whitespace-pre-wrap break-words rounded-lg border border-slate-300 bg-white p-4 font-mono text-sm">
            {m.text.map((part, i) =>
              part.url ? (
                <a key={i} href={part.url} className="text-blue-800 underline">
                  {part.text}
                </a>
              ) : (
                <span key={i}>{part.text}</span>
              ),
            )}
          </pre>
        </section>
      ) : null}
      {m.json ? (
        <section aria-labelledby="json-title" className="mt-6">
          <h2 id="json-title" className="text-lg font-semibold">
            Payload
          </h2>
          <pre className="mt-2 overflow-x-auto rounded-lg border border-slate-300 bg-white p-4 font-mono text-sm">
            {m.json}
          </pre>
        </section>
      ) : null}
    </main>
  );
}
