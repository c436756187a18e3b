import { sql } from "kysely";

/**
 * What counts as "people leaving", in one place for every report query.
 *
 * Ledger rows whose action is `unsubscribe` (a whole channel) or `topic_opt_out` (one topic), from
 * every source EXCEPT `import` and `system`. An import is an operator loading an existing
 * suppression list (thousands of rows in a second, nobody leaving today) and `system` rows are
 * Heed's own housekeeping: counting them would bury real spikes and make campaign rates
 * meaningless. They still appear in the "by source" table, marked as not counted.
 * Repeats are not double-counted: the consent core writes no ledger row for an idempotent repeat.
 *
 * The predicates are literal SQL, not bind parameters, so that the planner matches the partial
 * indexes of migrations/2026-11-22T1600_reports.ts. They expect the ledger aliased as `l`.
 */
export const LEAVING = sql`l.action in ('unsubscribe', 'topic_opt_out')`;
export const BY_PEOPLE = sql`l.source not in ('import', 'system')`;
/** Sources whose rows are not people leaving (see above). */
export const NOT_COUNTED_SOURCES = ["import", "system"] as const;

export function isCountedSource(source: string): boolean {
  return !(NOT_COUNTED_SOURCES as readonly string[]).includes(source);
}

/**
 * A person, for counting people rather than rows: the contact when the ledger row names one, else
 * the address (its keyed hash, which survives erasure). One person who leaves email, SMS and
 * WhatsApp at once is one person leaving.
 */
export const PERSON = sql`coalesce('c:' || l.contact_id::text, 'a:' || l.address_hash)`;

/**
 * Rows whose free text is the recipient's own words. In rows an operator wrote (a support agent
 * in the admin area, a sending system through the API) the text is the operator's note.
 */
export const OPERATOR_SOURCES = ["admin", "api", "import", "system"] as const;
export const RECIPIENT_WORDS = sql`l.source not in ('admin', 'api', 'import', 'system')`;
