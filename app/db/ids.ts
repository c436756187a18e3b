/**
 * Whether a string is a uuid as PostgreSQL reads one (32 hex digits in 8-4-4-4-12 groups). Check
 * ids that come from outside (URLs, tokens, forms) before they reach a query: a malformed one
 * would make the database refuse the statement.
 */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
