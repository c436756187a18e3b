/** Small shared pieces of the import pages. */

const STATUS: Record<string, { label: string; className: string }> = {
  draft: { label: "Preview", className: "bg-amber-100 text-amber-900 ring-amber-300" },
  queued: { label: "Waiting", className: "bg-slate-100 text-slate-800 ring-slate-300" },
  running: { label: "Running", className: "bg-sky-100 text-sky-900 ring-sky-300" },
  completed: { label: "Completed", className: "bg-green-100 text-green-900 ring-green-300" },
  failed: { label: "Failed", className: "bg-red-100 text-red-900 ring-red-300" },
};

/** A job's state; `label` is the translated word (the English one without it). */
export function ImportStatusBadge({ status, label }: { status: string; label?: string }) {
  const s = STATUS[status] ?? {
    label: status,
    className: "bg-slate-100 text-slate-800 ring-slate-300",
  };
  return (
    <span
      data-status={status}
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${s.className}`}
    >
      {label ?? s.label}
    </span>
  );
}

export const ERROR_LABEL: Record<string, string> = {
  empty: "empty",
  invalid_email: "invalid email",
  invalid_phone: "invalid phone",
  missing_country_code: "add the country code",
  invalid_channel: "unknown channel",
};
