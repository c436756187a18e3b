import type { Channel } from "~/db/schema";
import enCommon from "~/i18n/locales/en/common.json";
import enLabels from "~/i18n/locales/en/labels.json";

/**
 * Labels of consent sources and channels, one set for every place that shows them (the admin
 * area, reports, exports, the timeline). Sources live in the `labels` i18n namespace and channels in
 * `common`, in every page language; the admin area is in English and reads these. Safe for the browser bundle.
 */
export type SourceLabelKey = keyof typeof enLabels.sources;

export const SOURCE_LABELS: Readonly<Record<string, string>> = enLabels.sources;
export const CHANNEL_LABELS: Readonly<Record<Channel, string>> = enCommon.channels;

/** The English label of a ledger source (or of the undeliverable mark), or the raw code. */
export function sourceLabel(source: string): string {
  return SOURCE_LABELS[source] ?? source.replace(/_/g, " ");
}

export function channelLabel(channel: string): string {
  return CHANNEL_LABELS[channel as Channel] ?? channel;
}

/**
 * Sources whose ledger rows are written by an operator (a support agent, a sending system): their
 * free text is the operator's note, never the recipient's words. Notes are kept in the row's
 * details (`note`); rows written before that kept them as reason_text.
 */
export const OPERATOR_NOTE_SOURCES: readonly string[] = ["admin", "api"];

export function isOperatorSource(source: string): boolean {
  return OPERATOR_NOTE_SOURCES.includes(source);
}
