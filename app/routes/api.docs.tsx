import { json, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { apiDocs, type DocField } from "~/api/docs.server";
import { getEnv } from "~/env.server";
import { describeWebhookSchedule } from "~/webhooks/retry-schedule";

export const meta: MetaFunction = () => [{ title: "Heed sender API" }];

/** /api/docs: the sender API, readable, rendered from the same document as /api/v1/openapi.json. */
export async function loader() {
  const url = getEnv().publicUrl;
  return json(
    { ...apiDocs(url), publicUrl: url, schedule: describeWebhookSchedule() },
    { headers: { "Cache-Control": "public, max-age=300" } },
  );
}

/** Text with `code` spans (the descriptions in the OpenAPI document use Markdown backticks). */
function Md({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <>
      {text.split(/(`[^`]+`)/g).map((part, i) =>
        part.startsWith("`") && part.endsWith("`") && part.length > 2 ? (
          <code key={i} className="rounded bg-slate-100 px-1 font-mono text-[0.9em]">
            {part.slice(1, -1)}
          </code>
        ) : (
          <span key={i}>{part}</span>
        ),
      )}
    </>
  );
}

const METHOD_STYLE: Record<string, string> = {
  GET: "bg-sky-100 text-sky-900",
  POST: "bg-green-100 text-green-900",
  PUT: "bg-amber-100 text-amber-900",
  PATCH: "bg-purple-100 text-purple-900",
  DELETE: "bg-red-100 text-red-900",
};

function FieldTable({
  caption,
  rows,
  showIn,
}: {
  caption: string;
  rows: (DocField & { in?: string })[];
  showIn?: boolean;
}) {
  if (rows.length === 0) return null;
  return (
    <div className="relative mt-3 overflow-x-auto">
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="py-1 text-left font-medium text-slate-800">{caption}</caption>
        <thead className="bg-slate-50 text-left text-slate-700">
          <tr>
            <th scope="col" className="px-2 py-1 font-medium">
              Name
            </th>
            {showIn ? (
              <th scope="col" className="px-2 py-1 font-medium">
                In
              </th>
            ) : null}
            <th scope="col" className="px-2 py-1 font-medium">
              Type
            </th>
            <th scope="col" className="px-2 py-1 font-medium">
              Description
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 align-top">
          {rows.map((f) => (
            <tr key={`${f.in ?? ""}${f.name}`}>
              <td className="whitespace-nowrap px-2 py-1 font-mono text-xs">
                {f.name}
                {f.required ? <span className="text-red-800"> *</span> : null}
              </td>
              {showIn ? <td className="px-2 py-1 text-xs">{f.in}</td> : null}
              <td className="px-2 py-1 font-mono text-xs break-words">{f.type}</td>
              <td className="px-2 py-1 text-slate-700">
                <Md text={f.description} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function ApiDocs() {
  const { title, description, operations, publicUrl, schedule } = useLoaderData<typeof loader>();
  return (
    <main className="mx-auto max-w-4xl px-4 py-8">
      <h1 className="text-3xl font-semibold">{title}</h1>
      <p className="mt-3 text-slate-700">
        <Md text={description} />
      </p>
      <p className="mt-3 text-slate-700">
        Machine-readable:{" "}
        <a className="font-medium text-blue-800 underline" href="/api/v1/openapi.json">
          /api/v1/openapi.json
        </a>{" "}
        (OpenAPI 3.1). Fields marked <span className="text-red-800">*</span> are required. Bodies
        are JSON (at most 5 MB). Rate limit: per key and minute, answered with 429 and{" "}
        <code>Retry-After</code>.
      </p>

      <nav aria-label="Operations" className="mt-6 rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="text-lg font-semibold">Operations</h2>
        <ul className="mt-2 space-y-1 text-sm">
          {operations.map((op) => (
            <li key={op.id}>
              <a className="text-blue-800 underline" href={`#${op.id}`}>
                <span className="font-mono break-all">
                  {op.method} {op.path}
                </span>
              </a>{" "}
              — {op.summary}
            </li>
          ))}
          <li>
            <a className="text-blue-800 underline" href="#webhooks">
              Outbound webhooks
            </a>{" "}
            and{" "}
            <a className="text-blue-800 underline" href="#sms">
              inbound SMS
            </a>
          </li>
        </ul>
      </nav>

      {operations.map((op) => (
        <section
          key={op.id}
          id={op.id}
          aria-labelledby={`${op.id}-title`}
          className="mt-6 rounded-lg border border-slate-200 bg-white p-4"
        >
          <h2
            id={`${op.id}-title`}
            className="flex flex-wrap items-center gap-2 text-lg font-semibold"
          >
            <span
              className={`rounded px-2 py-0.5 font-mono text-sm ${METHOD_STYLE[op.method] ?? ""}`}
            >
              {op.method}
            </span>
            <span className="font-mono text-base break-all">{op.path}</span>
          </h2>
          <p className="mt-1 font-medium">{op.summary}</p>
          <p className="mt-1 text-slate-700">
            <Md text={op.description} />
          </p>
          <p className="mt-1 text-sm text-slate-700">
            {op.scope ? (
              <>
                Scope: <code className="font-mono">{op.scope}</code>
              </>
            ) : (
              "Public: no API key needed."
            )}
          </p>
          <FieldTable caption="Parameters" rows={op.parameters} showIn />
          <FieldTable caption="JSON body" rows={op.body} />
          <h3 className="mt-3 text-sm font-medium text-slate-800">Answers</h3>
          <ul className="mt-1 space-y-0.5 text-sm text-slate-700">
            {op.responses.map((r) => (
              <li key={r.status}>
                <span className="font-mono font-medium">{r.status}</span>{" "}
                <Md text={r.description} />
              </li>
            ))}
          </ul>
          <pre className="mt-3 overflow-x-auto rounded bg-slate-900 p-3 text-xs text-slate-50">
            {op.example}
          </pre>
        </section>
      ))}

      <section
        id="webhooks"
        aria-labelledby="webhooks-title"
        className="mt-6 rounded-lg border border-slate-200 bg-white p-4"
      >
        <h2 id="webhooks-title" className="text-lg font-semibold">
          Outbound webhooks
        </h2>
        <p className="mt-1 text-slate-700">
          Admins register endpoints under Admin → Webhooks and choose event types (
          <code>consent.unsubscribe</code>, <code>consent.subscribe</code>,{" "}
          <code>consent.pause</code>, <code>consent.resume</code>,{" "}
          <code>consent.topic_opt_out</code>, <code>consent.topic_opt_in</code>,{" "}
          <code>consent.signup_pending</code>, <code>consent.frequency</code>). Every consent change
          of those types is POSTed as <code>{"{type, timestamp, data}"}</code>, where{" "}
          <code>data</code> is the same event object as in <code>GET /api/v1/events</code>, signed
          per Standard Webhooks with the endpoint&apos;s secret (<code>webhook-id</code>,{" "}
          <code>webhook-timestamp</code>, <code>webhook-signature</code>). Verify with any Standard
          Webhooks library, e.g. <code>new Webhook(secret).verify(rawBody, headers)</code>. Answer
          2xx to acknowledge. Other answers, timeouts and network errors are retried {schedule},
          never sooner than a <code>Retry-After</code> you send (seconds or an HTTP date, up to 24
          hours); 429, 502, 503 and 504 also pause every delivery to the endpoint for that long.
          Redirects are not followed. 410 Gone disables the endpoint, and so does failing for the
          whole schedule (the admins get an email). The <code>webhook-id</code> is random, the same
          for every endpoint that gets the event and on every retry: use it to ignore duplicates.
        </p>
      </section>

      <section
        id="sms"
        aria-labelledby="sms-title"
        className="mt-6 rounded-lg border border-slate-200 bg-white p-4"
      >
        <h2 id="sms-title" className="text-lg font-semibold">
          Inbound SMS and WhatsApp (Twilio)
        </h2>
        <p className="mt-1 text-slate-700">
          Point your Twilio number&apos;s (or WhatsApp sender&apos;s) incoming-message webhook at{" "}
          <code className="break-all">{publicUrl}/webhooks/sms/twilio</code> (HTTP POST). Requests
          must carry a valid <code>X-Twilio-Signature</code>. STOP, STOPALL, UNSUBSCRIBE, CANCEL,
          END, QUIT, REVOKE, OPTOUT or “opt out” unsubscribe the number from that channel and send
          one confirmation; START, UNSTOP, YES re-subscribe; HELP and INFO answer with help text.
        </p>
      </section>
    </main>
  );
}
