import type { Db } from "~/db/db.server";
import { getEnv, type Env } from "~/env.server";
import { mailtoConfig } from "~/email/mailto.server";

/**
 * What the admin page "Email providers" shows: which provider webhooks and inbound routes are
 * configured (never the secrets themselves), and the latest email events Heed received.
 */

export type ProviderStatus = {
  name: string;
  /** Path of the event webhook, and of the inbound-parse webhook where the provider has one. */
  events: string;
  inbound: string | null;
  configured: boolean;
  inboundConfigured: boolean;
  /** The variables that configure it. */
  variables: string[];
};

export function providerStatus(env: Env = getEnv()): ProviderStatus[] {
  const postmark = Boolean(env.POSTMARK_WEBHOOK_USERNAME && env.POSTMARK_WEBHOOK_PASSWORD);
  return [
    {
      name: "Amazon SES (SNS)",
      events: "/webhooks/email/ses",
      inbound: null,
      configured: Boolean(env.SES_SNS_TOPIC_ARNS),
      inboundConfigured: false,
      variables: ["SES_SNS_TOPIC_ARNS"],
    },
    {
      name: "SendGrid",
      events: "/webhooks/email/sendgrid",
      inbound: "/webhooks/email/inbound/sendgrid",
      configured: Boolean(env.SENDGRID_WEBHOOK_PUBLIC_KEY),
      inboundConfigured: Boolean(env.SENDGRID_INBOUND_PUBLIC_KEY),
      variables: ["SENDGRID_WEBHOOK_PUBLIC_KEY", "SENDGRID_INBOUND_PUBLIC_KEY"],
    },
    {
      name: "Mailgun",
      events: "/webhooks/email/mailgun",
      inbound: "/webhooks/email/inbound/mailgun",
      configured: Boolean(env.MAILGUN_WEBHOOK_SIGNING_KEY),
      inboundConfigured: Boolean(env.MAILGUN_WEBHOOK_SIGNING_KEY),
      variables: ["MAILGUN_WEBHOOK_SIGNING_KEY"],
    },
    {
      name: "Postmark",
      events: "/webhooks/email/postmark",
      inbound: "/webhooks/email/inbound/postmark",
      configured: postmark,
      inboundConfigured: postmark,
      variables: ["POSTMARK_WEBHOOK_USERNAME", "POSTMARK_WEBHOOK_PASSWORD"],
    },
    {
      name: "Resend",
      events: "/webhooks/email/resend",
      inbound: null,
      configured: Boolean(env.RESEND_WEBHOOK_SECRET),
      inboundConfigured: false,
      variables: ["RESEND_WEBHOOK_SECRET"],
    },
  ];
}

export type ListenerStatus = {
  mailto: string | null;
  fbl: string | null;
  smtpPort: number | null;
  tls: boolean;
  maxBytes: number;
};

export function listenerStatus(env: Env = getEnv()): ListenerStatus {
  const m = mailtoConfig(env);
  return {
    mailto: m ? `${m.base}+{code}@${m.domain}` : null,
    fbl: env.INBOUND_FBL_ADDRESS ?? null,
    smtpPort: env.INBOUND_SMTP_PORT ?? null,
    tls: Boolean(env.INBOUND_SMTP_TLS_CERT && env.INBOUND_SMTP_TLS_KEY),
    maxBytes: env.INBOUND_SMTP_MAX_BYTES,
  };
}

export type RecentEmailEvent = {
  id: number;
  receivedAt: Date;
  provider: string;
  kind: string;
  decision: string;
  address: string | null;
  campaign: string | null;
};

/** The latest email events and messages Heed received (newest first). */
export async function recentEmailEvents(db: Db, limit = 50): Promise<RecentEmailEvent[]> {
  const rows = await db
    .selectFrom("inbound_messages")
    .select(["id", "received_at", "provider", "kind", "decision", "address", "campaign"])
    .where("channel", "=", "email")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    receivedAt: new Date(r.received_at),
    provider: r.provider,
    kind: r.kind,
    decision: r.decision,
    address: r.address,
    campaign: r.campaign,
  }));
}
