import { useMemo } from "react";
import { channelLabel, reasonLabel, sourceLabel } from "~/consent/labels";
import { useT } from "~/i18n/react";

/**
 * Channel, source, reason and topic-state labels in the admin page's language: the same strings
 * recipients and exports use (`common:channels`, `labels:sources`, `recipient:reasons`, all in the
 * admin layout's payload), the English labels of ~/consent/labels when a code has none.
 */
export function useConsentLabels() {
  const common = useT("common");
  const labels = useT("labels");
  const recipient = useT("recipient");
  const admin = useT("admin");
  return useMemo(
    () => ({
      channel: (c: string) => common(`channels.${c}`, { defaultValue: channelLabel(c) }),
      source: (s: string) => labels(`sources.${s}`, { defaultValue: sourceLabel(s) }),
      reason: (code: string) => recipient(`reasons.${code}`, { defaultValue: reasonLabel(code) }),
      topicState: (state: string) => admin(`topicState.${state}`, { defaultValue: state }),
      action: (action: string) => admin(`actions.${action}`, { defaultValue: action }),
    }),
    [common, labels, recipient, admin],
  );
}
