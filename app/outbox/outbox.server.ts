import type { Transaction } from "kysely";
import type { Db } from "~/db/db.server";
import type { Database } from "~/db/schema";

export type OutboxKind = "email" | "sms" | "webhook";

export type OutboxMessage = {
  kind: OutboxKind;
  /** Email address, E.164 phone (with `whatsapp:` prefix for WhatsApp), or webhook endpoint id. */
  recipient: string;
  /** What the transport needs: rendered subject/html/text, SMS body, webhook event... */
  payload: Record<string, unknown>;
  maxAttempts?: number;
  /** Deliver no earlier than this. */
  notBefore?: Date;
};

/**
 * Queues a message in the outbox. Call it with the transaction that makes the change which causes
 * the message, so that both commit or neither does; the worker in every server process delivers.
 */
export async function enqueueOutbox(db: Db | Transaction<Database>, message: OutboxMessage): Promise<number> {
  const row = await db
    .insertInto("outbox")
    .values({
      kind: message.kind,
      recipient: message.recipient,
      payload: JSON.stringify(message.payload),
      ...(message.maxAttempts ? { max_attempts: message.maxAttempts } : {}),
      ...(message.notBefore ? { next_attempt_at: message.notBefore } : {}),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}
