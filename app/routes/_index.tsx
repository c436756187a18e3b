import { json, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { demoPreferencesPath } from "~/boot/boot.server";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { NO_STORE } from "~/http/headers";

export const meta: MetaFunction = () => [{ title: "Heed — preference center" }];

export const headers = () => NO_STORE;

export async function loader() {
  const env = getEnv();
  const demoUrl = env.isProduction ? null : await demoPreferencesPath(getDb());
  return json({ development: !env.isProduction, demoUrl }, { headers: NO_STORE });
}

export default function Index() {
  const { development, demoUrl } = useLoaderData<typeof loader>();
  return (
    <main className="mx-auto max-w-2xl px-4 py-10">
      <h1 className="text-3xl font-semibold">Heed</h1>
      <p className="mt-3 text-lg text-slate-700">
        A self-hosted preference center. The unsubscribe and “manage preferences” links in your
        email, SMS and WhatsApp messages land here: recipients choose what they get, pause, or
        leave, and say why. Mailbox providers post one-click unsubscribes here, SMS providers
        forward STOP replies, and your sending systems ask Heed before every send.
      </p>
      <ul className="mt-6 list-disc space-y-1 pl-6 text-slate-700">
        <li>Consent belongs to the address, per channel, with an append-only ledger.</li>
        <li>Re-subscribing needs a confirmed double opt-in.</li>
        <li>Signed links that expire and keys that rotate; no address in any URL.</li>
      </ul>
      {development ? (
        <section
          className="mt-8 rounded-lg border border-amber-300 bg-amber-50 p-4"
          aria-labelledby="dev-links"
        >
          <h2 id="dev-links" className="text-lg font-semibold">
            Development links
          </h2>
          <ul className="mt-2 space-y-1">
            {demoUrl ? (
              <li>
                <a className="text-blue-800 underline" href={demoUrl}>
                  Demo preference page
                </a>
              </li>
            ) : null}
            <li>
              <a className="text-blue-800 underline" href="/admin/login">
                Admin login
              </a>{" "}
              (the first admin&apos;s password is printed when the server starts)
            </li>
            <li>
              <a className="text-blue-800 underline" href="/healthz">
                Health check
              </a>
            </li>
          </ul>
        </section>
      ) : null}
    </main>
  );
}
