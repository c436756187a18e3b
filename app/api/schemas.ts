import { z } from "zod";
import { CHANNELS, CONSENT_SOURCES, LEDGER_ACTIONS } from "~/db/schema";
import { UNDELIVERABLE_ACTIONS, UNDELIVERABLE_SOURCE } from "~/email/constants";

/**
 * The zod schemas of the sender API (docs/api.md). The same schemas validate requests in the routes
 * and generate the OpenAPI document (app/api/openapi.server.ts), so the two cannot drift apart.
 */

export const MAX_RECIPIENTS = 10_000;
export const MAX_SUPPRESSIONS_PER_REQUEST = 1_000;
export const MAX_EVENTS_PAGE = 1_000;

export const Channel = z.enum(CHANNELS).meta({ description: "A messaging channel." });
export const TopicKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a topic key (a-z, 0-9, _ and -)")
  .meta({ description: "A topic key, e.g. `newsletter`." });
export const CampaignKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:/-]+$/, "may hold letters, digits and . _ : / -")
  .meta({ description: "The sender's key of one send, for attribution and reports." });
export const ExternalId = z
  .string()
  .min(1)
  .max(200)
  .meta({ description: "The sender's own id of the contact." });
export const Address = z
  .string()
  .min(1)
  .max(320)
  .meta({ description: "An email address or a phone number (E.164 preferred)." });
export const Locale = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "must be a language tag such as en or pt-BR")
  .meta({ description: "A BCP 47 language tag; pages use it when Heed has that language." });
export const DateTime = z.iso
  .datetime({ offset: true })
  .meta({ description: "ISO 8601 date-time." });
export const Category = z
  .enum(["marketing", "transactional"])
  .meta({ description: "Opt-outs apply to marketing only." });

// ---------------------------------------------------------------------------------------------
// Errors

export const ErrorBody = z
  .object({
    error: z.object({
      code: z
        .string()
        .meta({ description: "Stable machine-readable code, e.g. `invalid_request`." }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).nullable().meta({
        description:
          "More about the error. For 400 `invalid_request`: `issues: [{path, message, code}]`.",
      }),
    }),
  })
  .meta({ description: "The error shape of every failed request." });

// ---------------------------------------------------------------------------------------------
// Contacts and preferences

export const ContactPathParams = z.object({ externalId: ExternalId });

export const ContactPutBody = z
  .strictObject({
    email: Address.nullable().optional().meta({ description: "Omit to keep, null to remove." }),
    phone: Address.nullable().optional().meta({ description: "Omit to keep, null to remove." }),
    locale: Locale.nullable().optional(),
  })
  .meta({ description: "Fields left out keep their value; null clears them." });

export const Contact = z.object({
  id: z.uuid(),
  externalId: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  locale: z.string().nullable(),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const ChannelStatus = z
  .enum(["subscribed", "unsubscribed", "pending"])
  .meta({ description: "`pending`: signed up through Heed and not confirmed yet." });

export const ChannelPreferences = z.object({
  address: z.string(),
  status: ChannelStatus,
  pausedUntil: DateTime.nullable(),
  topics: z
    .record(z.string(), z.boolean())
    .meta({ description: "Each topic offered on this channel: true when the address gets it." }),
  frequency: z.string().nullable().meta({
    description:
      "The frequency option the address chose on this channel (a key of `frequencyOptions`); null: none chosen, every message.",
  }),
  frequencyOptions: z
    .array(
      z.object({
        key: z.string(),
        windowDays: z.number().int().nullable().meta({
          description: "At most one marketing message per this many days; null: every message.",
        }),
      }),
    )
    .meta({ description: "The frequency options the operator offers on this channel." }),
});

export const Preferences = z.object({
  externalId: z.string(),
  channels: z
    .object({
      email: ChannelPreferences.optional(),
      sms: ChannelPreferences.optional(),
      whatsapp: ChannelPreferences.optional(),
    })
    .meta({ description: "The channels the contact has an address on." }),
});

export const ChannelPatch = z.strictObject({
  status: z.enum(["subscribed", "unsubscribed"]).optional().meta({
    description:
      "`unsubscribed` unsubscribes at once. `subscribed` on an unsubscribed channel starts double opt-in instead (a confirmation goes to the address).",
  }),
  pausedUntil: DateTime.nullable().optional().meta({
    description: "A future date pauses the channel until then (at most a year); null resumes.",
  }),
  topics: z
    .record(TopicKey, z.boolean())
    .optional()
    .meta({ description: "Topic choices to change: true opts in, false opts out." }),
  frequency: TopicKey.optional().meta({
    description:
      "Choose one of the channel's frequency options (its key); recorded in the ledger. An unknown key answers 422 `unknown_frequency`.",
  }),
});

export const PreferencesPatch = z.strictObject({
  channels: z.strictObject({
    email: ChannelPatch.optional(),
    sms: ChannelPatch.optional(),
    whatsapp: ChannelPatch.optional(),
  }),
  reason: z
    .strictObject({ code: z.string().max(64).optional(), text: z.string().max(1000).optional() })
    .optional()
    .meta({ description: "Why, for opt-outs (an unsubscribe reason code and/or free text)." }),
  campaign: CampaignKey.optional(),
});

export const Confirmation = z.object({
  channel: Channel,
  requestId: z.string(),
  status: z.string().meta({
    description:
      "What the double opt-in request did: `sent`, `rate_limited`, `already_subscribed`, or `keyword_required` (an SMS/WhatsApp number that opted out is texted nothing: the person sends START to `keywordNumber`).",
  }),
  keywordNumber: z.string().nullable().optional().meta({
    description: "With `keyword_required`: the number to send START to (null when not configured).",
  }),
});

export const PreferencesPatchResult = Preferences.extend({
  confirmations: z
    .array(Confirmation)
    .meta({ description: "Double opt-in requests started by this change (re-subscriptions)." }),
});

// ---------------------------------------------------------------------------------------------
// Links

export const LinkBody = z.strictObject({
  externalId: ExternalId,
  channel: Channel,
  topic: TopicKey.optional().meta({
    description: "Makes the unsubscribe link a topic unsubscribe.",
  }),
  campaign: CampaignKey.optional(),
});

export const ListUnsubscribeHeaders = z
  .object({
    "List-Unsubscribe": z.string(),
    "List-Unsubscribe-Post": z.literal("List-Unsubscribe=One-Click"),
  })
  .meta({ description: "Email only: put these headers in the message (RFC 2369, RFC 8058)." });

export const Links = z.object({
  preferencesUrl: z.url(),
  unsubscribeUrl: z.url(),
  shortUrl: z.url().optional().meta({
    description: "SMS and WhatsApp: a short link to the unsubscribe page.",
  }),
  headers: ListUnsubscribeHeaders.optional(),
});

export const LinksBatchBody = z.strictObject({
  channel: Channel,
  topic: TopicKey.optional(),
  campaign: CampaignKey.optional(),
  externalIds: z.array(ExternalId).min(1).max(MAX_RECIPIENTS),
});

export const LinksBatchResult = z.object({
  results: z
    .array(
      z.union([
        Links.extend({ externalId: z.string() }),
        z.object({
          externalId: z.string(),
          error: z.object({ code: z.string(), message: z.string() }),
        }),
      ]),
    )
    .meta({ description: "One entry per external id, in request order." }),
});

// ---------------------------------------------------------------------------------------------
// Check

export const CheckBody = z.strictObject({
  channel: Channel,
  topic: TopicKey.optional(),
  category: Category,
  recipients: z.array(Address).min(1).max(MAX_RECIPIENTS),
  campaign: CampaignKey.optional().meta({
    description:
      "The campaign being sent. Sends of the same campaign never cap each other, so a retried check answers the same.",
  }),
  record: z.boolean().optional().meta({
    description:
      "With `campaign` (required then) and category `marketing`: record a send for each allowed recipient, so that a later check inside a recipient's chosen frequency window answers `frequency_capped`. Ask with `record` only for what you really send.",
  }),
});

export const DenyReason = z.enum([
  "undeliverable",
  "unsubscribed",
  "pending_confirmation",
  "paused",
  "topic_unsubscribed",
  "not_opted_in",
  "invalid_address",
  "frequency_capped",
]);

export const CheckResult = z.object({
  results: z
    .array(z.object({ address: z.string(), allowed: z.boolean(), reason: DenyReason.optional() }))
    .meta({ description: "One entry per recipient, in request order." }),
});

// ---------------------------------------------------------------------------------------------
// Suppressions

export const SuppressionsBody = z.strictObject({
  channel: z.union([Channel, z.literal("all")]).meta({
    description: "`all`: email addresses on email, phone numbers on SMS and WhatsApp.",
  }),
  addresses: z.array(Address).min(1).max(MAX_SUPPRESSIONS_PER_REQUEST),
  note: z.string().max(1000).optional(),
  reason: z.string().max(64).optional().meta({ description: "An unsubscribe reason code." }),
  campaign: CampaignKey.optional(),
});

export const SuppressionsResult = z.object({
  suppressed: z.int().meta({ description: "Address/channel pairs newly suppressed." }),
  alreadySuppressed: z.int(),
  invalid: z.array(z.object({ address: z.string(), reason: z.string() })),
});

export const SuppressionsExportQuery = z.strictObject({
  channel: Channel.optional(),
  source: z.enum(CONSENT_SOURCES).optional(),
  since: DateTime.optional().meta({ description: "Suppressed at or after." }),
  until: DateTime.optional().meta({ description: "Suppressed before." }),
});

// ---------------------------------------------------------------------------------------------
// Campaigns and subscriptions

export const CampaignBody = z.strictObject({
  key: CampaignKey,
  name: z.string().trim().min(1).max(200),
  channel: Channel,
  topic: TopicKey.nullable().optional(),
  sentCount: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export const Campaign = z.object({
  key: z.string(),
  name: z.string(),
  channel: Channel,
  topic: z.string().nullable(),
  sentCount: z.int(),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const SubscriptionBody = z.strictObject({
  channel: Channel,
  address: Address,
  topics: z.array(TopicKey).max(50).optional(),
  locale: Locale.optional(),
});

export const SubscriptionResult = z.object({
  requestId: z.string(),
  status: z.string().meta({
    description:
      "What happened: `sent` (a confirmation is on its way), `already_subscribed`, or `keyword_required` (an SMS/WhatsApp number that opted out is texted nothing: the person sends `keyword` to `keywordNumber`).",
  }),
  keyword: z.string().optional().meta({ description: "With `keyword_required`: `START`." }),
  keywordNumber: z.string().nullable().optional().meta({
    description: "With `keyword_required`: the number to send START to (null when not configured).",
  }),
});

// ---------------------------------------------------------------------------------------------
// Events

export const EventsQuery = z.strictObject({
  after: z
    .string()
    .regex(/^\d{1,20}-\d{1,20}$/, "must be a cursor returned by this endpoint")
    // Both parts are PostgreSQL bigints: a larger number is no cursor this endpoint returned.
    .refine(
      // (zod runs refinements after a failed regex too: only digits reach BigInt)
      (v) =>
        !/^\d+-\d+$/.test(v) || v.split("-").every((part) => BigInt(part) <= 9223372036854775807n),
      "must be a cursor returned by this endpoint",
    )
    .optional()
    .meta({
      description: "The `nextCursor` of the previous page; omit to start at the beginning.",
    }),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(100),
});

export const ConsentEvent = z
  .object({
    id: z.string().meta({ description: "The consent ledger row's id." }),
    type: z.string().meta({
      description:
        "`consent.<action>`, e.g. `consent.unsubscribe`; `address.undeliverable` and `address.undeliverable_cleared` for undeliverable marks (hard bounces), which are not consent.",
    }),
    occurredAt: DateTime,
    channel: Channel,
    address: z.string().nullable().meta({ description: "null after erasure." }),
    action: z.enum([...LEDGER_ACTIONS, ...UNDELIVERABLE_ACTIONS]),
    topic: z.string().nullable(),
    source: z.enum([...CONSENT_SOURCES, UNDELIVERABLE_SOURCE]),
    campaign: z.string().nullable(),
    reasonCode: z.string().nullable(),
    reasonText: z.string().nullable(),
    pausedUntil: DateTime.nullable(),
    frequency: z
      .string()
      .nullable()
      .meta({ description: "`consent.frequency`: the key of the frequency option chosen." }),
    externalId: z.string().nullable().meta({ description: "The contact's external id, if any." }),
    actor: z.object({ type: z.string(), id: z.string().nullable() }).nullable(),
  })
  .meta({ description: "One consent ledger entry." });

export const EventsResult = z.object({
  events: z.array(ConsentEvent),
  nextCursor: z.string().nullable().meta({
    description: "Pass as `after` to get the next events; repeat it later when `hasMore` is false.",
  }),
  hasMore: z.boolean(),
});

/** A table row as Heed stores it (every column; timestamps as ISO 8601 strings). */
const StoredRow = z
  .record(z.string(), z.unknown())
  .meta({ description: "A stored row, every column as Heed keeps it." });

export const SubjectExport = z
  .object({
    format: z.literal("heed.subject-export.v1"),
    generatedAt: z.string(),
    contact: StoredRow,
    addresses: z.array(
      z.object({
        channel: Channel,
        address: z
          .string()
          .nullable()
          .meta({ description: "Null after erasure: only the keyed hash is kept." }),
        addressHash: z.string(),
        status: z
          .string()
          .nullable()
          .meta({ description: "subscribed, unsubscribed or pending; null: never changed." }),
        pausedUntil: z.unknown(),
        consent: StoredRow.nullable(),
        topics: z.array(StoredRow),
        undeliverable: StoredRow.nullable(),
        softBounces: StoredRow.nullable(),
      }),
    ),
    frequency: z
      .array(StoredRow)
      .meta({ description: "The frequency chosen per address, with the option's labels." }),
    sendLog: z
      .array(StoredRow)
      .meta({ description: "Sends recorded by checks with `record: true` (the frequency cap)." }),
    ledger: z
      .array(StoredRow)
      .meta({ description: "Every consent ledger row, oldest first, with its evidence." }),
    confirmations: z
      .array(StoredRow)
      .meta({ description: "Double opt-in requests (pending, confirmed, expired)." }),
    mailtoCodes: z.array(StoredRow),
    messages: z
      .array(StoredRow)
      .meta({ description: "Messages to the person's addresses in the outbox (queued or sent)." }),
    inboundMessages: z.array(StoredRow),
    undeliverableEvents: z.array(StoredRow),
    topicNames: z
      .record(z.string(), z.record(z.string(), z.string()))
      .meta({ description: "Topic key → its name per language." }),
    reasonNames: z
      .record(z.string(), z.record(z.string(), z.string()))
      .meta({ description: "Unsubscribe reason code → its label per language." }),
    operatorActions: z.array(StoredRow),
    proof: z.record(z.string(), z.unknown()).meta({
      description:
        "What a third party needs to verify this person's ledger history: every hash chain of their addresses (each row as the exact text hashed), the algorithm and the latest checkpoint.",
    }),
  })
  .meta({ description: "Everything Heed holds about one person (GDPR art. 15 and 20)." });
