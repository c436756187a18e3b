import { Form, Link } from "@remix-run/react";
import type { Channel } from "~/db/schema";
import {
  buttonClass,
  hintClass,
  inputClass,
  labelClass,
  Notice,
  PageHeader,
  Section,
} from "~/admin/ui/components";
import { CsrfInput } from "~/admin/ui/layout";
import { useLocale, useT } from "~/i18n/react";
import {
  IMPORT_ENCODINGS,
  type ImportEncoding,
  type ImportErrorReason,
  type ImportFormat,
  type PreviewRow,
} from "~/imports/schema";
import { columnLetter } from "~/imports/detect";

/**
 * The preview of a draft import (/admin/imports/{id} while the job is a draft): what was found
 * (encoding, delimiter, header row, default phone country), the first rows with the columns' roles
 * and what each row becomes, the valid/invalid counts, the form to remap, and confirm or cancel.
 */

export type PreviewData = {
  id: string;
  fileName: string;
  format: ImportFormat;
  fileSize: number;
  channel: Channel | null;
  fileAvailable: boolean;
  fileHost: string;
  mapping: {
    header: boolean;
    addressColumn: number;
    channelColumn: number | null;
    reasonColumn: number | null;
    delimiter: string | null;
    encoding: ImportEncoding | null;
    detectedEncoding: { encoding: ImportEncoding; bom: boolean } | null;
    unconfirmedAddress: boolean;
  };
  headerRow: string[] | null;
  width: number;
  rows: PreviewRow[];
  counts: {
    checked: number;
    valid: number;
    invalid: number;
    byError: Partial<Record<ImportErrorReason, number>>;
    more: boolean;
  };
  phoneRegion: string | null;
  phoneCode: string;
  problem: string | null;
};

const ENCODING_NAMES: Record<ImportEncoding, { name: string; group?: "central" | "western" }> = {
  "utf-8": { name: "UTF-8" },
  "utf-16le": { name: "UTF-16 LE" },
  "utf-16be": { name: "UTF-16 BE" },
  "windows-1250": { name: "Windows-1250", group: "central" },
  "windows-1252": { name: "Windows-1252", group: "western" },
  "iso-8859-2": { name: "ISO-8859-2", group: "central" },
  "iso-8859-1": { name: "ISO-8859-1", group: "western" },
};

function delimiterName(d: string | null): string {
  if (d === "\t") return "Tab";
  return d ?? ",";
}

export function ImportPreview({
  preview: p,
  error,
}: {
  preview: PreviewData;
  error: string | null;
}) {
  const t = useT("imports");
  const tc = useT("common");
  const locale = useLocale();
  const n = (x: number) => x.toLocaleString(locale);
  const encodingLabel = (e: ImportEncoding) => {
    const def = ENCODING_NAMES[e];
    return def.group ? `${def.name} (${t(`encodings.${def.group}`)})` : def.name;
  };
  const role = (i: number) =>
    i === p.mapping.addressColumn
      ? t("preview.role_address")
      : i === p.mapping.reasonColumn
        ? t("preview.role_reason")
        : p.channel === null && i === p.mapping.channelColumn
          ? t("preview.role_channel")
          : null;
  const columnName = (i: number) =>
    p.headerRow?.[i]?.trim()
      ? `${columnLetter(i)} · ${p.headerRow[i]!.trim()}`
      : t("preview.column", { letter: columnLetter(i) });
  const columns = Array.from({ length: Math.max(p.width, 1) }, (_, i) => i);
  const detected = p.mapping.detectedEncoding;
  const missingCountry = (p.counts.byError.missing_country_code ?? 0) > 0;

  return (
    <div>
      <PageHeader
        title={t("preview.title", { file: p.fileName })}
        description={`${p.format.toUpperCase()} · ${(p.fileSize / 1024).toFixed(1)} KB`}
      />
      <Notice kind="info">{t("preview.intro")}</Notice>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {p.mapping.unconfirmedAddress ? (
        <Notice kind="error">{t("preview.no_address")}</Notice>
      ) : null}
      {!p.fileAvailable ? (
        <Notice kind="error">{t("preview.file_elsewhere", { host: p.fileHost })}</Notice>
      ) : null}
      {p.problem ? <Notice kind="error">{p.problem}</Notice> : null}

      <Section title={t("preview.found")} id="found">
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          {p.format === "csv" && p.mapping.encoding ? (
            <>
              <dt className="font-medium text-slate-700">{t("preview.encoding")}</dt>
              <dd data-testid="encoding">
                {encodingLabel(p.mapping.encoding)}{" "}
                <span className="text-slate-600">
                  (
                  {detected && detected.encoding === p.mapping.encoding
                    ? t("preview.detected")
                    : t("preview.chosen")}
                  {detected?.bom && detected.encoding === p.mapping.encoding
                    ? `, ${t("preview.with_bom")}`
                    : ""}
                  )
                </span>
              </dd>
              <dt className="font-medium text-slate-700">{t("preview.delimiter")}</dt>
              <dd>
                <code>{delimiterName(p.mapping.delimiter)}</code>
              </dd>
            </>
          ) : null}
          <dt className="font-medium text-slate-700">{t("preview.header_row")}</dt>
          <dd>{p.mapping.header ? t("preview.yes") : t("preview.no")}</dd>
          <dt className="font-medium text-slate-700">{t("preview.phone_country")}</dt>
          <dd>
            {p.phoneRegion ? `${p.phoneRegion} (${p.phoneCode})` : t("preview.phone_country_none")}{" "}
            ·{" "}
            <Link to="/admin/phone-numbers" className={buttonClass.link}>
              {t("preview.phone_country_change")}
            </Link>
          </dd>
        </dl>
        <p className="mt-4 text-sm text-slate-800" data-testid="checked">
          {p.counts.more
            ? t("preview.checked", { count: p.counts.checked })
            : t("preview.checked_all", { count: p.counts.checked })}
        </p>
        <dl className="mt-2 grid grid-cols-2 gap-3 sm:grid-cols-4">
          <div className="rounded-md border border-green-300 bg-green-50 p-3">
            <dt className="text-xs font-medium uppercase tracking-wide text-green-900">
              {t("preview.valid")}
            </dt>
            <dd className="mt-1 text-xl font-semibold tabular-nums" data-count="valid">
              {n(p.counts.valid)}
            </dd>
          </div>
          <div className="rounded-md border border-red-300 bg-red-50 p-3">
            <dt className="text-xs font-medium uppercase tracking-wide text-red-900">
              {t("preview.invalid")}
            </dt>
            <dd className="mt-1 text-xl font-semibold tabular-nums" data-count="invalid">
              {n(p.counts.invalid)}
            </dd>
          </div>
          {Object.entries(p.counts.byError).map(([reason, count]) => (
            <div key={reason} className="rounded-md border border-slate-200 p-3">
              <dt className="text-xs font-medium text-slate-700">{t(`errors.${reason}`)}</dt>
              <dd className="mt-1 text-lg font-semibold tabular-nums">{n(count)}</dd>
            </div>
          ))}
        </dl>
        {missingCountry ? (
          <p className="mt-3 text-sm text-amber-900">{t("preview.missing_country_code_hint")}</p>
        ) : null}
      </Section>

      <Section title={t("preview.rows")} id="rows">
        {/* Focusable, so that keyboard users can scroll a wide table on a phone. */}
        <div className="overflow-x-auto" tabIndex={0} role="group" aria-label={t("preview.rows")}>
          <table
            className="min-w-full divide-y divide-slate-200 text-sm"
            data-testid="preview-rows"
          >
            <caption className="sr-only">{t("preview.rows")}</caption>
            <thead className="bg-slate-50 text-left align-bottom text-slate-700">
              <tr>
                <th scope="col" className="px-2 py-2 font-medium">
                  {t("preview.line")}
                </th>
                {/* What the row becomes comes first: on a phone it is what shows without scrolling. */}
                <th scope="col" className="px-2 py-2 font-medium">
                  {t("preview.result")}
                </th>
                {columns.map((i) => {
                  const r = role(i);
                  return (
                    <th
                      key={i}
                      scope="col"
                      data-role={r ?? undefined}
                      className={`px-2 py-2 font-medium ${r ? "bg-blue-50 text-blue-950" : ""}`}
                    >
                      <span className="block whitespace-nowrap">{columnName(i)}</span>
                      {r ? (
                        <span className="mt-0.5 inline-block rounded bg-blue-700 px-1.5 text-xs font-semibold text-white">
                          {r}
                        </span>
                      ) : null}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {p.rows.map((row) => (
                <tr
                  key={row.line}
                  data-valid={row.result.ok ? "true" : "false"}
                  className={row.result.ok ? "" : "bg-red-50"}
                >
                  <td className="px-2 py-1.5 tabular-nums text-slate-600">{row.line}</td>
                  <td className="px-2 py-1.5">
                    {row.result.ok ? (
                      <span className="whitespace-nowrap">
                        <code className="text-green-900">{row.result.address}</code>
                        <span className="text-slate-600">
                          {" "}
                          · {tc(`channels.${row.result.channel}`)}
                          {row.result.reasonCode
                            ? ` · ${t("preview.reason_code")}: ${row.result.reasonCode}`
                            : ""}
                        </span>
                      </span>
                    ) : (
                      <span className="whitespace-nowrap font-medium text-red-800">
                        {t(`errors.${row.result.error}`)}
                      </span>
                    )}
                  </td>
                  {columns.map((i) => (
                    <td
                      key={i}
                      className={`max-w-[14rem] truncate px-2 py-1.5 ${role(i) ? "bg-blue-50/60" : ""}`}
                      title={row.cells[i] ?? ""}
                    >
                      {row.cells[i] ?? ""}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>

      <Section title={t("preview.columns")} id="columns">
        <Form method="post" className="grid gap-4 md:grid-cols-2" replace>
          <CsrfInput />
          <input type="hidden" name="intent" value="remap" />
          <div>
            <label htmlFor="addressColumn" className={labelClass}>
              {t("preview.address_column")}
            </label>
            <select
              id="addressColumn"
              name="addressColumn"
              defaultValue={String(p.mapping.addressColumn)}
              className={`mt-1 ${inputClass}`}
            >
              {columns.map((i) => (
                <option key={i} value={i}>
                  {columnName(i)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="reasonColumn" className={labelClass}>
              {t("preview.reason_column")}
            </label>
            <select
              id="reasonColumn"
              name="reasonColumn"
              defaultValue={p.mapping.reasonColumn === null ? "" : String(p.mapping.reasonColumn)}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("preview.no_column")}</option>
              {columns.map((i) => (
                <option key={i} value={i}>
                  {columnName(i)}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="channel" className={labelClass}>
              {t("preview.channel")}
            </label>
            <select
              id="channel"
              name="channel"
              defaultValue={p.channel ?? "file"}
              className={`mt-1 ${inputClass}`}
            >
              <option value="email">{tc("channels.email")}</option>
              <option value="sms">{tc("channels.sms")}</option>
              <option value="whatsapp">{tc("channels.whatsapp")}</option>
              <option value="file">{t("upload.channel_file")}</option>
            </select>
          </div>
          <div>
            <label htmlFor="channelColumn" className={labelClass}>
              {t("preview.channel_column")}
            </label>
            <select
              id="channelColumn"
              name="channelColumn"
              defaultValue={p.mapping.channelColumn === null ? "" : String(p.mapping.channelColumn)}
              className={`mt-1 ${inputClass}`}
            >
              <option value="">{t("preview.no_column")}</option>
              {columns.map((i) => (
                <option key={i} value={i}>
                  {columnName(i)}
                </option>
              ))}
            </select>
          </div>
          {p.format === "csv" ? (
            <div>
              <label htmlFor="encoding" className={labelClass}>
                {t("preview.encoding")}
              </label>
              <select
                id="encoding"
                name="encoding"
                defaultValue={p.mapping.encoding ?? "utf-8"}
                className={`mt-1 ${inputClass}`}
              >
                {IMPORT_ENCODINGS.map((e) => (
                  <option key={e} value={e}>
                    {encodingLabel(e)}
                    {detected?.encoding === e ? ` (${t("preview.detected")})` : ""}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <div className="flex items-center gap-2 self-end pb-2">
            <input
              id="header"
              name="header"
              type="checkbox"
              defaultChecked={p.mapping.header}
              className="h-4 w-4 rounded border-slate-400"
            />
            <label htmlFor="header" className="text-sm text-slate-800">
              {t("preview.first_row_header")}
            </label>
          </div>
          <div className="md:col-span-2">
            <button type="submit" className={buttonClass.secondary}>
              {t("preview.apply")}
            </button>
          </div>
        </Form>
      </Section>

      <div className="mt-6 flex flex-wrap items-center gap-3">
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value="confirm" />
          <button
            type="submit"
            className={buttonClass.primary}
            disabled={!p.fileAvailable || p.mapping.unconfirmedAddress}
          >
            {t("preview.confirm")}
          </button>
        </Form>
        <Form method="post">
          <CsrfInput />
          <input type="hidden" name="intent" value="cancel" />
          <button type="submit" className={buttonClass.secondary}>
            {t("preview.cancel")}
          </button>
        </Form>
      </div>
      <p className={hintClass}>{t("preview.confirm_hint")}</p>
    </div>
  );
}
