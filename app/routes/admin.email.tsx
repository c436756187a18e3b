import {
  json,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { operator, requireAction, requireRole } from "~/admin/auth.server";
import { parseForm, text } from "~/admin/forms.server";
import {
  AdminErrorBoundary,
  buttonClass,
  FieldError,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
  Time,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { getDb } from "~/db/db.server";
import { listenerStatus, providerStatus, recentEmailEvents } from "~/email/status.server";
import { getBounceSettings, saveBounceSettings } from "~/email/undeliverable.server";
import { getEnv } from "~/env.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Email providers · Heed admin" }];

/**
 * /admin/email (admins): which email providers are connected (webhook URLs to give them, and
 * whether their secret is configured), the mailto/FBL listener, the per-install soft-bounce rule,
 * and the latest email events Heed received.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  await requireRole(request, "admin");
  const db = getDb();
  const [bounces, events] = await Promise.all([getBounceSettings(db), recentEmailEvents(db)]);
  return json(
    {
      publicUrl: getEnv().publicUrl,
      providers: providerStatus(),
      listener: listenerStatus(),
      bounces,
      events,
    },
    { headers: NO_STORE },
  );
}

const BounceForm = z.object({
  softBounceLimit: z
    .string()
    .trim()
    .regex(/^(\d{1,3})?$/, "Enter a whole number, or leave it empty.")
    .transform((v) => (v === "" ? null : Number(v)))
    .pipe(z.number().int().min(2, "At least 2.").max(100, "At most 100.").nullable()),
});

export async function action({ request, context }: ActionFunctionArgs) {
  const { user, formData } = await requireAction(request, "admin");
  const input = { softBounceLimit: text(formData, "softBounceLimit") };
  const parsed = parseForm(BounceForm, input);
  if (!parsed.ok) {
    return json(
      {
        ok: false as const,
        message: parsed.message,
        fieldErrors: parsed.fieldErrors,
        values: input,
      },
      { status: 400 },
    );
  }
  const res = await saveBounceSettings(getDb(), parsed.data, operator(user, request, context));
  return json({
    ok: true as const,
    message: res.changed ? "Saved." : "Nothing changed.",
  });
}

const KIND_LABEL: Record<string, string> = {
  mailto: "Unsubscribe email (mailto)",
  complaint: "Spam complaint",
  esp_unsubscribe: "Provider's unsubscribe",
  hard_bounce: "Hard bounce",
  soft_bounce: "Soft bounce",
};

export default function EmailProviders() {
  const { publicUrl, providers, listener, bounces, events } = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failed = actionData && !actionData.ok ? actionData : null;
  return (
    <div>
      <PageHeader
        title="Email providers"
        description="Spam complaints, the provider's own unsubscribes and bounces that Heed hears from your email providers, and the unsubscribe emails people send to the List-Unsubscribe mailto address. See README, “Connecting your email provider”."
      />
      {actionData ? (
        <Notice kind={actionData.ok ? "success" : "error"}>{actionData.message}</Notice>
      ) : null}

      <Section title="Webhooks" id="providers">
        <ul className="divide-y divide-slate-100" data-testid="providers">
          {providers.map((p) => (
            <li key={p.name} className="grid gap-2 py-3 text-sm md:grid-cols-[10rem_1fr_1fr]">
              <div>
                <div className="font-medium text-slate-900">{p.name}</div>
                <div className="text-xs text-slate-600">
                  {p.variables.map((v) => (
                    <code key={v} className="block break-all">
                      {v}
                    </code>
                  ))}
                </div>
              </div>
              <div>
                <div className="text-xs font-medium text-slate-700">Event webhook</div>
                <code className="block break-all text-xs">{`${publicUrl}${p.events}`}</code>
                <div className={p.configured ? "text-green-800" : "text-slate-700"}>
                  {p.configured ? "Ready" : "Not configured (requests are refused)"}
                </div>
              </div>
              <div>
                <div className="text-xs font-medium text-slate-700">Inbound (mailto) webhook</div>
                {p.inbound ? (
                  <>
                    <code className="block break-all text-xs">{`${publicUrl}${p.inbound}`}</code>
                    <div className={p.inboundConfigured ? "text-green-800" : "text-slate-700"}>
                      {p.inboundConfigured ? "Ready" : "Not configured"}
                    </div>
                  </>
                ) : (
                  <div className="text-slate-700">None (use the SMTP listener or another ESP)</div>
                )}
              </div>
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Unsubscribe emails and feedback loops" id="listener">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-700">List-Unsubscribe mailto</dt>
          <dd className="break-all">
            {listener.mailto ?? "Not set (UNSUBSCRIBE_MAILTO): links carry no mailto address"}
          </dd>
          <dt className="font-medium text-slate-700">Feedback-loop address</dt>
          <dd className="break-all">{listener.fbl ?? "Not set (INBOUND_FBL_ADDRESS)"}</dd>
          <dt className="font-medium text-slate-700">SMTP listener</dt>
          <dd>
            {listener.smtpPort !== null
              ? `Port ${listener.smtpPort}${listener.tls ? ", STARTTLS" : ", no TLS certificate"}, messages up to ${Math.round(listener.maxBytes / 1024)} KB`
              : "Off (INBOUND_SMTP_PORT); an ESP's inbound webhook can receive the mail instead"}
          </dd>
        </dl>
      </Section>

      <Section title="Soft bounces" id="bounces">
        <p className="mb-3 text-sm text-slate-700">
          A hard bounce marks an address undeliverable at once. A soft bounce (a full mailbox, a
          server that is down) usually passes; if you want repeated ones to count, set how many in a
          row (with no delivery in between) make an address undeliverable.
        </p>
        <Form method="post" className="flex flex-wrap items-end gap-3" noValidate>
          <CsrfInput />
          <div>
            <label htmlFor="softBounceLimit" className={labelClass}>
              Soft bounces in a row
            </label>
            <input
              id="softBounceLimit"
              name="softBounceLimit"
              inputMode="numeric"
              defaultValue={
                failed ? failed.values.softBounceLimit : (bounces.softBounceLimit?.toString() ?? "")
              }
              aria-invalid={failed?.fieldErrors.softBounceLimit ? true : undefined}
              aria-describedby="softBounceLimit-hint softBounceLimit-error"
              className={`mt-1 w-32 ${inputClass}`}
            />
            <p id="softBounceLimit-hint" className={hintClass}>
              Empty: soft bounces never do (the default).
            </p>
            <FieldError id="softBounceLimit-error" message={failed?.fieldErrors.softBounceLimit} />
          </div>
          <button type="submit" className={`mb-5 ${buttonClass.primary}`}>
            Save
          </button>
        </Form>
      </Section>

      <Section title="Latest email events" id="events">
        {events.length === 0 ? (
          <p className="text-slate-700">Nothing received yet.</p>
        ) : (
          <div className="overflow-x-auto" tabIndex={0}>
            <table
              className="min-w-full divide-y divide-slate-200 text-sm"
              data-testid="email-events"
            >
              <caption className="sr-only">The latest email events, newest first</caption>
              <thead className="text-left text-slate-700">
                <tr>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    When
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    From
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    What
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Address
                  </th>
                  <th scope="col" className="py-2 pr-3 font-medium">
                    Campaign
                  </th>
                  <th scope="col" className="py-2 font-medium">
                    Decision
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {events.map((e) => (
                  <tr key={e.id}>
                    <td className="whitespace-nowrap py-2 pr-3 text-slate-700">
                      <Time value={e.receivedAt} />
                    </td>
                    <td className="py-2 pr-3">{e.provider}</td>
                    <td className="py-2 pr-3">{KIND_LABEL[e.kind] ?? e.kind}</td>
                    <td className="break-all py-2 pr-3">{e.address ?? "—"}</td>
                    <td className="py-2 pr-3">{e.campaign ?? "—"}</td>
                    <td className="py-2">{e.decision.replace(/_/g, " ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}

export { AdminErrorBoundary as ErrorBoundary };
