import type { z } from "zod";
import type { ApiErrorStatus } from "~/api/errors.server";
import type { ApiScope } from "~/api/keys.server";
import * as S from "~/api/schemas";

/**
 * Every operation of the sender API: method, path, scope, schemas and answers. Routes run them
 * (app/api/route.server.ts) and the OpenAPI document is generated from them, so a route cannot
 * accept something the document does not say.
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export type Operation = {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI path template, e.g. /api/v1/contacts/{externalId}. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  /** null: public (the OpenAPI document itself). */
  scope: ApiScope | null;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  errors: ApiErrorStatus[];
};

const AUTH_ERRORS: ApiErrorStatus[] = [401, 403, 429];
const BODY_ERRORS: ApiErrorStatus[] = [400, 413, 415];

function op<const O extends Operation>(o: O): O {
  return o;
}

export const putContact = op({
  operationId: "putContact",
  method: "PUT",
  path: "/api/v1/contacts/{externalId}",
  tag: "Contacts",
  summary: "Create or update a contact",
  description:
    "Upserts the contact with this external id. Addresses are normalized (emails lower-cased, phones to E.164). A contact groups addresses; consent belongs to the address, so changing a contact's email never re-subscribes anything.",
  scope: "contacts",
  params: S.ContactPathParams,
  body: S.ContactPutBody,
  responses: {
    200: { description: "Updated", schema: S.Contact },
    201: { description: "Created", schema: S.Contact },
  },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS],
});

export const getPreferences = op({
  operationId: "getPreferences",
  method: "GET",
  path: "/api/v1/contacts/{externalId}/preferences",
  tag: "Contacts",
  summary: "Read a contact's preferences",
  description:
    "Each channel the contact has an address on: its state, pause, and every topic offered on it.",
  scope: "contacts",
  params: S.ContactPathParams,
  responses: { 200: { description: "The preferences", schema: S.Preferences } },
  errors: [400, ...AUTH_ERRORS, 404],
});

export const patchPreferences = op({
  operationId: "patchPreferences",
  method: "PATCH",
  path: "/api/v1/contacts/{externalId}/preferences",
  tag: "Contacts",
  summary: "Change a contact's preferences",
  description:
    "For a sender's own account-settings page. Changes go through the consent core with source `api`. Re-subscribing an unsubscribed channel starts double opt-in instead: the channel stays unsubscribed until the person confirms.",
  scope: "contacts",
  params: S.ContactPathParams,
  body: S.PreferencesPatch,
  responses: {
    200: { description: "The preferences after the change", schema: S.PreferencesPatchResult },
  },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409, 422],
});

export const exportContact = op({
  operationId: "exportContact",
  method: "GET",
  path: "/api/v1/contacts/{externalId}/export",
  tag: "Contacts",
  summary: "Everything Heed holds about a contact (GDPR access and portability)",
  description:
    "For a data subject's access or portability request (GDPR art. 15 and 20): the contact, each address's state and topic choices, the full consent ledger with its evidence, confirmations, messages queued or sent, inbound messages and undeliverable events, as one JSON document. Every export is written to the audit log.",
  scope: "contacts",
  params: S.ContactPathParams,
  responses: { 200: { description: "The export", schema: S.SubjectExport } },
  errors: [400, ...AUTH_ERRORS, 404],
});

export const createLinks = op({
  operationId: "createLinks",
  method: "POST",
  path: "/api/v1/links",
  tag: "Links",
  summary: "Preference and unsubscribe links for one recipient",
  description:
    "Signed links for a message to this contact. Email gets the `List-Unsubscribe` and `List-Unsubscribe-Post` headers to put in the message (with a `mailto:` too when the server has UNSUBSCRIBE_MAILTO); SMS and WhatsApp get a short link.",
  scope: "links",
  body: S.LinkBody,
  responses: { 200: { description: "The links", schema: S.Links } },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 404, 422],
});

export const createLinksBatch = op({
  operationId: "createLinksBatch",
  method: "POST",
  path: "/api/v1/links/batch",
  tag: "Links",
  summary: "Links for up to 10,000 recipients of one campaign",
  description:
    "The same as POST /api/v1/links for many contacts at once. Contacts that do not exist or have no address on the channel get an `error` entry; the others get their links.",
  scope: "links",
  body: S.LinksBatchBody,
  responses: { 200: { description: "One result per external id", schema: S.LinksBatchResult } },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 422],
});

export const check = op({
  operationId: "check",
  method: "POST",
  path: "/api/v1/check",
  tag: "Sending",
  summary: "May I send? (up to 10,000 recipients)",
  description:
    "Send decisions, in this order: transactional → allowed; unsubscribed; pending_confirmation; paused; topic_unsubscribed; not_opted_in (default-off topic); frequency_capped (a send of another campaign was recorded inside the frequency window the recipient chose); else allowed. Addresses Heed has never seen are allowed, except for default-off topics. With `record: true` and a `campaign`, a send is recorded for each allowed marketing recipient. One set-based query (and one insert when recording); results in request order.",
  scope: "check",
  body: S.CheckBody,
  responses: { 200: { description: "One decision per recipient", schema: S.CheckResult } },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 422],
});

export const suppress = op({
  operationId: "suppress",
  method: "POST",
  path: "/api/v1/suppressions",
  tag: "Suppressions",
  summary: "Suppress addresses (up to 1,000)",
  description:
    "Unsubscribes each address on the channel (or on all its channels) with source `api`, recorded in the ledger with this API key as the actor. Idempotent: already suppressed addresses are counted, not changed. Invalid addresses are listed and skipped.",
  scope: "suppressions",
  body: S.SuppressionsBody,
  responses: { 200: { description: "Counts", schema: S.SuppressionsResult } },
  // 422 `unknown_reason`: `reason` is not one of the configured unsubscribe reason codes.
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 422],
});

export const exportSuppressions = op({
  operationId: "exportSuppressions",
  method: "GET",
  path: "/api/v1/suppressions.csv",
  tag: "Suppressions",
  summary: "Export suppressed addresses as CSV",
  description:
    "Streams every suppressed (unsubscribed) address, the same export as Admin → Exports: address, channel, date (of the latest unsubscribe, ISO 8601 UTC), source, reason (code), reason_text (free text), campaign, note. Free-text cells that a spreadsheet would run as a formula are prefixed with an apostrophe. Erased addresses (kept only as a keyed hash) are not exported. Filter by channel, source and date.",
  scope: "suppressions",
  query: S.SuppressionsExportQuery,
  responses: {
    200: { description: "CSV with a header row", contentType: "text/csv" },
  },
  errors: [400, ...AUTH_ERRORS],
});

export const upsertCampaign = op({
  operationId: "upsertCampaign",
  method: "POST",
  path: "/api/v1/campaigns",
  tag: "Campaigns",
  summary: "Register or update a campaign",
  description:
    "Registers one send (key, name, channel, topic, sent count) so that unsubscribes are attributed and rates computed. Posting the same key again updates the name, topic and sent count; a key cannot move to another channel (409).",
  scope: "links",
  body: S.CampaignBody,
  responses: {
    200: { description: "Updated", schema: S.Campaign },
    201: { description: "Created", schema: S.Campaign },
  },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 409, 422],
});

export const subscribe = op({
  operationId: "subscribe",
  method: "POST",
  path: "/api/v1/subscriptions",
  tag: "Contacts",
  summary: "Start double opt-in for an address",
  description:
    "Sends a confirmation to the address (an email, or an SMS/WhatsApp message with a short link). Nothing is subscribed until the person confirms.",
  scope: "contacts",
  body: S.SubscriptionBody,
  responses: { 202: { description: "Double opt-in started", schema: S.SubscriptionResult } },
  errors: [...BODY_ERRORS, ...AUTH_ERRORS, 422],
});

export const listEvents = op({
  operationId: "listEvents",
  method: "GET",
  path: "/api/v1/events",
  tag: "Events",
  summary: "Consent events feed",
  description:
    "Ledger entries in a stable order, for syncing. Start without `after`, then pass the `nextCursor` you got. The feed only shows events of committed transactions older than any still running, so a cursor never skips an event that commits late.",
  scope: "events",
  query: S.EventsQuery,
  responses: { 200: { description: "A page of events", schema: S.EventsResult } },
  errors: [400, ...AUTH_ERRORS],
});

export const openapi = op({
  operationId: "openapi",
  method: "GET",
  path: "/api/v1/openapi.json",
  tag: "Meta",
  summary: "This OpenAPI 3.1 document",
  scope: null,
  responses: { 200: { description: "OpenAPI 3.1", contentType: "application/json" } },
  errors: [],
});

/**
 * Paths under /api/ that are pages for people, not operations (not in the OpenAPI document):
 * the readable API reference.
 */
export const API_PAGES: readonly { path: string; methods: HttpMethod[] }[] = [
  { path: "/api/docs", methods: ["GET"] },
];

export const OPERATIONS: readonly Operation[] = [
  putContact,
  getPreferences,
  patchPreferences,
  exportContact,
  createLinks,
  createLinksBatch,
  check,
  suppress,
  exportSuppressions,
  upsertCampaign,
  subscribe,
  listEvents,
  openapi,
];

function pathPattern(template: string): RegExp {
  const source = template
    .split(/(\{\w+\})/)
    .map((part) => (/^\{\w+\}$/.test(part) ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  // The router ignores one trailing slash.
  return new RegExp(`^${source}/?$`);
}

const PATTERNS = [
  ...OPERATIONS.map((o) => ({ re: pathPattern(o.path), method: o.method })),
  ...API_PAGES.flatMap((p) => p.methods.map((method) => ({ re: pathPattern(p.path), method }))),
];

/**
 * The methods a path under /api/ answers (HEAD wherever GET is), or [] when no operation or page
 * has this path.
 */
export function allowedMethods(pathname: string): string[] {
  const methods = new Set<string>();
  for (const p of PATTERNS) {
    if (!p.re.test(pathname)) continue;
    methods.add(p.method);
    if (p.method === "GET") methods.add("HEAD");
  }
  return [...methods];
}
