import { isRouteErrorResponse, Link, useRouteError } from "@remix-run/react";
import type { ReactNode } from "react";
import type { Locale } from "~/i18n/config";
import { useLocale, useT } from "~/i18n/react";

/** Small building blocks for admin pages: plain HTML forms and tables, Tailwind classes. */

export const inputClass =
  "block w-full rounded-md border border-slate-400 bg-white px-3 py-2 text-sm text-slate-900 " +
  "focus:border-blue-700 focus:outline-none focus:ring-2 focus:ring-blue-700/30";
export const labelClass = "block text-sm font-medium text-slate-800";
export const hintClass = "mt-1 text-xs text-slate-600";

const buttonBase =
  "inline-flex items-center justify-center rounded-md px-3 py-2 text-sm font-medium " +
  "focus:outline-none focus:ring-2 focus:ring-offset-1 disabled:opacity-60";
export const buttonClass = {
  primary: `${buttonBase} bg-blue-700 text-white hover:bg-blue-800 focus:ring-blue-700`,
  secondary: `${buttonBase} border border-slate-400 bg-white text-slate-800 hover:bg-slate-100 focus:ring-slate-500`,
  danger: `${buttonBase} bg-red-700 text-white hover:bg-red-800 focus:ring-red-700`,
  link: "text-sm font-medium text-blue-800 underline hover:text-blue-950",
} as const;

export function PageHeader({
  title,
  description,
  children,
}: {
  title: string;
  description?: ReactNode;
  children?: ReactNode;
}) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        {/* A long file name in a title wraps instead of widening a phone's page. */}
        <h1 className="text-2xl font-semibold text-slate-900 [overflow-wrap:anywhere]">{title}</h1>
        {description ? <p className="mt-1 text-sm text-slate-700">{description}</p> : null}
      </div>
      {children ? <div className="flex flex-wrap gap-2">{children}</div> : null}
    </div>
  );
}

export function Section({
  title,
  id,
  children,
  actions,
}: {
  title: string;
  id: string;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section
      aria-labelledby={id}
      className="mb-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
    >
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 id={id} className="text-lg font-semibold text-slate-900">
          {title}
        </h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Notice({
  kind,
  children,
}: {
  kind: "success" | "error" | "info";
  children: ReactNode;
}) {
  const styles = {
    success: "border-green-300 bg-green-50 text-green-900",
    error: "border-red-300 bg-red-50 text-red-900",
    info: "border-slate-300 bg-slate-50 text-slate-800",
  }[kind];
  return (
    <div
      role={kind === "error" ? "alert" : "status"}
      className={`mb-4 rounded-md border p-3 text-sm ${styles}`}
    >
      {children}
    </div>
  );
}

export function FieldError({ id, message }: { id: string; message?: string | null }) {
  if (!message) return null;
  return (
    <p id={id} className="mt-1 text-sm text-red-800">
      {message}
    </p>
  );
}

/** Previous/next links for keyset or page-number pagination (plain links: no JS needed). */
export function Pager({
  prev,
  next,
  label,
  prevLabel,
  nextLabel,
}: {
  prev?: string | null;
  next?: string | null;
  label?: string;
  prevLabel?: string;
  nextLabel?: string;
}) {
  const t = useT("admin");
  if (!prev && !next) return null;
  return (
    <nav aria-label={label ?? t("pager.label")} className="mt-4 flex items-center gap-4">
      {prev ? (
        <Link className={buttonClass.secondary} to={prev} rel="prev">
          {prevLabel ?? t("pager.previous")}
        </Link>
      ) : null}
      {next ? (
        <Link className={buttonClass.secondary} to={next} rel="next">
          {nextLabel ?? t("pager.next")}
        </Link>
      ) : null}
    </nav>
  );
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * "2026-11-22 13:05:09 UTC" in English, "22. 11. 2026 13:05:09 UTC" in Czech: numeric, in UTC, so
 * it reads the same for operators in any time zone (and the server's and the browser's renderings
 * agree).
 */
export function formatDateTime(value: string | Date | null | undefined, locale?: Locale): string {
  if (!value) return "";
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return "";
  if (!locale || locale === "en") return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  let format = dateTimeFormats.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZone: "UTC",
    });
    dateTimeFormats.set(locale, format);
  }
  return `${format.format(d)} UTC`;
}

export function Time({ value }: { value: string | Date | null | undefined }) {
  const locale = useLocale();
  if (!value) return <span className="text-slate-500">—</span>;
  const d = typeof value === "string" ? new Date(value) : value;
  return <time dateTime={d.toISOString()}>{formatDateTime(d, locale)}</time>;
}

/** A number in the page's language ("12 345" in Czech). */
export function useFormatNumber(): (n: number) => string {
  const locale = useLocale();
  return (n: number) => new Intl.NumberFormat(locale).format(n);
}

/** A coloured status; the text is `admin:status.<status>` unless a `label` is given. */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const t = useT("admin");
  const styles: Record<string, string> = {
    unsubscribed: "bg-red-100 text-red-900 ring-red-300",
    subscribed: "bg-green-100 text-green-900 ring-green-300",
    active: "bg-green-100 text-green-900 ring-green-300",
    enabled: "bg-green-100 text-green-900 ring-green-300",
    pending: "bg-amber-100 text-amber-900 ring-amber-300",
    paused: "bg-amber-100 text-amber-900 ring-amber-300",
    opted_out: "bg-red-100 text-red-900 ring-red-300",
    opted_in: "bg-green-100 text-green-900 ring-green-300",
    default: "bg-slate-100 text-slate-800 ring-slate-300",
    disabled: "bg-slate-200 text-slate-800 ring-slate-400",
    archived: "bg-slate-200 text-slate-800 ring-slate-400",
    admin: "bg-purple-100 text-purple-900 ring-purple-300",
    agent: "bg-sky-100 text-sky-900 ring-sky-300",
    overdue: "bg-red-100 text-red-900 ring-red-300",
  };
  const text = label ?? t(`status.${status}`, { defaultValue: status.replace(/_/g, " ") });
  return (
    <span
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${styles[status] ?? styles.default}`}
    >
      {text}
    </span>
  );
}

/** English defaults: the error page may render where the admin strings did not load. */
const ERROR_TEXT: Record<number, { key: string; title: string; text: string }> = {
  400: { key: "400", title: "Bad request", text: "The request could not be understood." },
  403: {
    key: "403",
    title: "Not allowed",
    text: "Your account does not have permission to do this.",
  },
  404: { key: "404", title: "Not found", text: "There is nothing at this address." },
  405: {
    key: "405",
    title: "Not allowed",
    text: "This page does not accept that kind of request.",
  },
  503: {
    key: "503",
    title: "Temporarily unavailable",
    text: "The database cannot be reached right now. Please try again in a minute.",
  },
};

/**
 * The error page of admin routes. Re-export it from a route (`export { AdminErrorBoundary as
 * ErrorBoundary }`) so errors render inside the admin layout, with its navigation.
 */
export function AdminErrorBoundary() {
  const t = useT("admin");
  const error = useRouteError();
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const known = ERROR_TEXT[status] ?? {
    key: "other",
    title: "Something went wrong",
    text: "Please try again in a moment.",
  };
  const raw =
    isRouteErrorResponse(error) && typeof error.data === "string" && status < 500
      ? error.data
      : null;
  // The authorization helpers' English default, in the page's language.
  const detail =
    raw === "You do not have permission to do this."
      ? t("messages.noPermission", { defaultValue: raw })
      : raw;
  return (
    <div className="max-w-2xl">
      <h1 className="text-2xl font-semibold">
        {t(`errors.${known.key}.title`, { defaultValue: known.title })}
      </h1>
      <p className="mt-2 text-slate-700">
        {detail ?? t(`errors.${known.key}.text`, { defaultValue: known.text })}
      </p>
      <p className="mt-4">
        <Link className={buttonClass.link} to="/admin">
          {t("errors.backHome", { defaultValue: "Back to the admin home" })}
        </Link>
      </p>
    </div>
  );
}
