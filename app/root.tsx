import type { LinksFunction, MetaFunction } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useMatches,
  useRouteError,
} from "@remix-run/react";
import type { ReactNode } from "react";
import { I18nProvider, useRouteI18nPayload } from "~/i18n/react";
import stylesheet from "~/tailwind.css";
import { accentCss } from "~/ui/accent";
import { isFaultPageData, PublicFaultPage, type FaultPageData } from "~/ui/fault-page";
import { useNonce } from "~/ui/nonce";

/**
 * A title for pages the root error boundary renders (a route's own meta does not run then): the
 * database-fault page's, in its language, or a plain one. Routes set their own titles otherwise.
 */
export const meta: MetaFunction = ({ error }) => {
  if (!error) return [];
  if (isRouteErrorResponse(error) && isFaultPageData(error.data)) {
    const key = error.data.heedFault === "database_unavailable" ? "unavailable" : "badRequest";
    const common = error.data.i18n?.resources.common as
      Record<string, { title?: unknown } | undefined> | undefined;
    const title = common?.[key]?.title;
    return [{ title: typeof title === "string" ? title : "Temporarily unavailable" }];
  }
  const status = isRouteErrorResponse(error) ? error.status : 500;
  return [{ title: status === 404 ? "Page not found" : "Something went wrong" }];
};

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: stylesheet },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];

/** The deepest route's branding accent, if its loader returned `branding` (recipient pages). */
function useRouteAccent(): string | null {
  const matches = useMatches();
  for (let i = matches.length - 1; i >= 0; i--) {
    const data = matches[i]!.data as { branding?: { accentColor?: unknown } } | null | undefined;
    const accent = data && typeof data === "object" ? data.branding?.accentColor : undefined;
    if (typeof accent === "string") return accent;
  }
  return null;
}

/** The data of a database-fault page caught at the root (see ~/ui/fault-page), if that is the error. */
function useRootFaultData(): FaultPageData | null {
  const error = useRouteError();
  return isRouteErrorResponse(error) && isFaultPageData(error.data) ? error.data : null;
}

/**
 * Remix wraps both the app and the error boundary in this export. `lang` and the strings come
 * from the page's `i18n` payload (recipient pages: the negotiated locale); the operator's accent
 * colour becomes CSS variables in a nonce'd <style>.
 */
export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  const fault = useRootFaultData();
  const i18n = useRouteI18nPayload() ?? fault?.i18n ?? null;
  const accent = useRouteAccent() ?? fault?.branding?.accentColor ?? null;
  return (
    <html lang={i18n?.locale ?? "en"}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <Meta />
        <Links />
        {accent ? (
          <style nonce={nonce} dangerouslySetInnerHTML={{ __html: accentCss(accent) }} />
        ) : null}
      </head>
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased">
        <I18nProvider value={i18n}>{children}</I18nProvider>
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

export function ErrorBoundary() {
  const error = useRouteError();
  if (isRouteErrorResponse(error) && isFaultPageData(error.data)) {
    if (error.data.audience === "public") return <PublicFaultPage data={error.data} />;
  }
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const [title, text] =
    status === 404
      ? ["Page not found", "The address you opened does not exist."]
      : status === 503
        ? [
            "Temporarily unavailable",
            "The database cannot be reached right now. Please try again in a minute.",
          ]
        : status === 400
          ? ["Bad request", "The request could not be processed."]
          : ["Something went wrong", "Please try again in a moment."];
  return (
    <main className="mx-auto max-w-xl p-6">
      <h1 className="text-2xl font-semibold">{title}</h1>
      <p className="mt-2 text-slate-700">{text}</p>
    </main>
  );
}
