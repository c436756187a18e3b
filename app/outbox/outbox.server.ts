import { sql, type Selectable } from "kysely";
import type { Db } from "~/db/db.server";

import type { OutboxTable } from "~/db/schema";

export type OutboxKind = "email" | "sms" | "webhook";

const EXPIRED_ERROR = "not delivered: its deliver-by time passed (dropped, never sent late)";

export type OutboxMessage = {
  kind: OutboxKind;
  /** Email address, E.164 phone (with `whatsapp:` prefix for WhatsApp), or webhook endpoint id. */
  recipient: string;
  /** What the transport needs: rendered subject/html/text, SMS body, webhook event... */
  payload: Record<string, unknown>;
  maxAttempts?: number;
  /** Deliver no earlier than this. */
  notBefore?: Date;
  /**
   * Never deliver after this: the worker marks the message `expired` instead (an opt-out
   * confirmation must not arrive more than 5 minutes after the STOP). A time already past queues
   * the message as expired at once, so that it shows in the outbox as dropped.
   */
  deliverBy?: Date;
};

/**
 * Queues a message in the outbox. Call it with the transaction that makes the change which causes
 * the message, so that both commit or neither does; the worker in every server process delivers.
 */
export async function enqueueOutbox(db: Db, message: OutboxMessage): Promise<number> {
  const row = await db
    .insertInto("outbox")
    .values({
      kind: message.kind,
      recipient: message.recipient,
      payload: JSON.stringify(message.payload),
      ...(message.maxAttempts ? { max_attempts: message.maxAttempts } : {}),
      ...(message.notBefore ? { next_attempt_at: message.notBefore } : {}),
      ...(message.deliverBy ? { deliver_by: message.deliverBy } : {}),
      ...(message.deliverBy && message.deliverBy.getTime() <= Date.now()
        ? { status: "expired" as const, last_error: EXPIRED_ERROR }
        : {}),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A claimed message whose deliver-by time has passed: `expired`. False if it is still in time. */
export async function expireClaimedMessage(db: Db, id: number, deliverBy: Date): Promise<boolean> {
  if (deliverBy.getTime() > Date.now()) return false;
  await db
    .updateTable("outbox")
    .set({ status: "expired", locked_until: null, last_error: EXPIRED_ERROR })
    .where("id", "=", id)
    .where("status", "=", "sending")
    .execute();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading and retrying (admin area, development outbox)

export type OutboxStatus = "pending" | "sending" | "sent" | "dead" | "expired";

/**
 * Marks `expired` every message whose deliver-by time has passed and that no worker holds right
 * now (pending, or sending with a lapsed lease). Runs before each claim, in the claim's
 * transaction, so that a late message is never handed to a transport.
 */
export async function expireOverdueMessages(db: Db): Promise<number> {
  const r = await sql`
    update outbox set status = 'expired', locked_until = null,
      last_error = left(coalesce(last_error || ' | ', '') || ${EXPIRED_ERROR}, 2000)
    where id in (
      select id from outbox
      where deliver_by is not null and deliver_by <= now()
        and (status = 'pending' or (status = 'sending' and locked_until <= now()))
      for update skip locked
    )`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export type OutboxSummary = {
  id: number;
  kind: OutboxKind;
  recipient: string;
  status: OutboxStatus;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** The email subject, or the SMS body, or the webhook event type: what the message is about. */
  title: string | null;
  template: string | null;
};

const COLUMNS = [
  "id",
  "kind",
  "recipient",
  "status",
  "attempts",
  "max_attempts",
  "next_attempt_at",
  "last_error",
  "created_at",
  "sent_at",
  "payload",
] as const;
type OutboxRow = Pick<Selectable<OutboxTable>, (typeof COLUMNS)[number]>;

function summarize(r: OutboxRow): OutboxSummary {
  const p = r.payload as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    id: r.id,
    kind: r.kind,
    recipient: r.recipient,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    title: str(p.subject) ?? str(p.body)?.slice(0, 160) ?? str(p.type) ?? str(p.eventType) ?? null,
    template: str(p.template),
  };
}

/** Newest first, optionally by status and kind; `before` pages by id. */
export async function listOutbox(
  db: Db,
  options: {
    status?: OutboxStatus;
    kind?: OutboxKind;
    limit?: number;
    before?: number;
    /** Part of the recipient, case-insensitive. */
    recipient?: string;
  } = {},
): Promise<OutboxSummary[]> {
  let q = db
    .selectFrom("outbox")
    .select(COLUMNS)
    .orderBy("id", "desc")
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 500));
  if (options.status) q = q.where("status", "=", options.status);
  if (options.kind) q = q.where("kind", "=", options.kind);
  if (options.before) q = q.where("id", "<", options.before);
  if (options.recipient) {
    const pattern = `%${options.recipient.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where("recipient", "ilike", pattern);
  }
  return (await q.execute()).map(summarize);
}

/** How many messages are in each status. */
export async function countOutbox(db: Db): Promise<Record<OutboxStatus, number>> {
  const rows = await db
    .selectFrom("outbox")
    .select(["status", db.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const out: Record<OutboxStatus, number> = {
    pending: 0,
    sending: 0,
    sent: 0,
    dead: 0,
    expired: 0,
  };
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}

/** One message with its full payload (the development outbox renders it). */
export async function getOutboxMessage(
  db: Db,
  id: number,
): Promise<(OutboxSummary & { payload: Record<string, unknown> }) | null> {
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const r = await db.selectFrom("outbox").select(COLUMNS).where("id", "=", id).executeTakeFirst();
  return r ? { ...summarize(r), payload: r.payload as Record<string, unknown> } : null;
}

/**
 * Gives a dead message a fresh set of attempts, due now. Returns false when the message does not
 * exist or is not dead (only dead messages are retried by hand). The last error is kept.
 */
export async function retryOutboxMessage(db: Db, id: number): Promise<boolean> {
  if (!Number.isSafeInteger(id) || id <= 0) return false;
  const r = await db
    .updateTable("outbox")
    .set({ status: "pending", attempts: 0, next_attempt_at: new Date(), locked_until: null })
    .where("id", "=", id)
    .where("status", "=", "dead")
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
