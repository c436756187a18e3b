/** Constants of the reports shared by the server and the pages. */

/** The alert task judges the campaigns registered in this many last days. */
export const ALERT_LOOKBACK_DAYS = 30;
/** The webhook event type of an unsubscribe-rate alert. */
export const RATE_HIGH_EVENT = "campaign.unsubscribe_rate_high";
