import nodemailer from "nodemailer";
import type { Env } from "~/env.server";
import type { DeliveryResult, Transport } from "~/outbox/types";
import { getBranding } from "~/settings/settings.server";
import { EmailPayloadSchema } from "./send.server";

/**
 * The `email` transport of the outbox: SMTP through nodemailer when SMTP_URL is set; otherwise the
 * development outbox, where a message is "delivered" by staying in the outbox table, which
 * /dev/outbox shows (rendered, links clickable). Heed only sends transactional mail: no
 * List-Unsubscribe header, no marketing.
 */

type SmtpTransporter = ReturnType<typeof nodemailer.createTransport>;
let cached: { url: string; transporter: SmtpTransporter } | undefined;

function smtp(url: string): SmtpTransporter {
  if (cached?.url !== url) {
    cached?.transporter.close();
    cached = {
      url,
      transporter: nodemailer.createTransport(url, {
        // A delivery must finish well within the outbox lease (5 minutes).
        connectionTimeout: 20_000,
        greetingTimeout: 20_000,
        socketTimeout: 60_000,
      }),
    };
  }
  return cached.transporter;
}

/** Closes the cached SMTP connection pool (tests, shutdown). */
export function closeSmtp(): void {
  cached?.transporter.close();
  cached = undefined;
}

/** MAIL_FROM, else no-reply at PUBLIC_URL's host (env.mailFrom); a bare address gets the organization's name. */
export function mailFrom(
  env: Env,
  organizationName: string,
): string | { name: string; address: string } {
  const from = env.mailFrom;
  return from.includes("<") ? from : { name: organizationName, address: from.trim() };
}

function hostOf(env: Env): string {
  return new URL(env.publicUrl).hostname || "heed.local";
}

type SmtpError = Error & { responseCode?: number; command?: string };

/** A recipient the server refuses for good (unknown mailbox, bad address): retrying cannot help. */
function isPermanent(err: SmtpError): boolean {
  return (
    typeof err.responseCode === "number" &&
    err.responseCode >= 550 &&
    err.responseCode <= 553 &&
    err.command === "RCPT TO"
  );
}

export const emailTransport: Transport = async (
  delivery,
  { db, env, logger },
): Promise<DeliveryResult> => {
  const parsed = EmailPayloadSchema.safeParse(delivery.payload);
  if (!parsed.success) {
    return {
      ok: false,
      error: "email payload is malformed (needs to, subject, html, text)",
      permanent: true,
    };
  }
  const mail = parsed.data;
  if (!env.SMTP_URL) {
    logger.info(
      { outboxId: delivery.id, template: mail.template },
      "email kept in the development outbox (/dev/outbox)",
    );
    return { ok: true, detail: "dev-outbox" };
  }
  const branding = await getBranding(db);
  try {
    const info = await smtp(env.SMTP_URL).sendMail({
      from: mailFrom(env, branding.organizationName),
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      // Random (the outbox row's uid), so no other message anywhere has it, and the same on every
      // attempt, so a retried message is recognized downstream.
      messageId: `<${delivery.uid}@${hostOf(env)}>`,
      headers: {
        // RFC 3834: an automatic message; out-of-office replies should not answer it.
        "Auto-Submitted": "auto-generated",
        ...(mail.template ? { "X-Heed-Template": mail.template } : {}),
      },
    });
    const rejected = (info.rejected ?? []).map(String);
    if (rejected.length > 0)
      return { ok: false, error: `recipient refused: ${rejected.join(", ")}`, permanent: true };
    return {
      ok: true,
      detail: typeof info.response === "string" ? info.response.slice(0, 200) : undefined,
    };
  } catch (e) {
    const err = e as SmtpError;
    return { ok: false, error: `SMTP: ${err.message}`.slice(0, 1000), permanent: isPermanent(err) };
  }
};
