import { z } from "zod";

import type { Db } from "~/db/db.server";

import { enqueueOutbox } from "~/outbox/outbox.server";

import { messageHash, type RenderedEmail } from "./templates.server";

/** What an `email` outbox row carries: the message exactly as it will be sent. */
export const EmailPayloadSchema = z.object({
  to: z.string().min(3),
  subject: z.string(),
  html: z.string(),
  text: z.string(),
  template: z.string().optional(),
  templateVersion: z.string().optional(),
  locale: z.string().optional(),
  messageHash: z.string().optional(),
});
export type EmailPayload = z.infer<typeof EmailPayloadSchema>;

/**
 * Queues a rendered email. Call it inside the transaction that causes the message, so that both
 * commit or neither does. Returns the outbox id and the message hash (evidence).
 */
export async function enqueueEmail(
  db: Db,
  email: RenderedEmail,
): Promise<{ outboxId: number; messageHash: string }> {
  const hash = messageHash(email);
  const payload: EmailPayload = {
    to: email.to,
    subject: email.subject,
    html: email.html,
    text: email.text,
    template: email.template,
    templateVersion: email.templateVersion,
    locale: email.locale,
    messageHash: hash,
  };
  const outboxId = await enqueueOutbox(db, { kind: "email", recipient: email.to, payload });
  return { outboxId, messageHash: hash };
}
