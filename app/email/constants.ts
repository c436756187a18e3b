/**
 * Names shared by the server and the pages (safe for the browser bundle) for undeliverable
 * addresses: how their changes appear in the events feed, outbound webhooks and the timeline.
 */

/** The `source` shown for an address marked undeliverable (labelled in the `labels` namespace). */
export const UNDELIVERABLE_SOURCE = "undeliverable" as const;

/** Event actions of undeliverable marks, next to the consent ledger's actions. */
export const UNDELIVERABLE_ACTIONS = ["undeliverable", "undeliverable_cleared"] as const;
export type UndeliverableEventAction = (typeof UNDELIVERABLE_ACTIONS)[number];

/** Outbound webhook / events-feed types of those changes. */
export const UNDELIVERABLE_EVENT_TYPES = [
  "address.undeliverable",
  "address.undeliverable_cleared",
] as const;

export function undeliverableEventType(action: UndeliverableEventAction): string {
  return `address.${action}`;
}

/** The webhook event of a campaign whose complaint rate passed the alert threshold. */
export const COMPLAINT_RATE_HIGH_EVENT = "campaign.complaint_rate_high";
