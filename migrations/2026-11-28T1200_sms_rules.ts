import { sql, type Kysely } from "kysely";

/**
 * SMS/WhatsApp opt-outs by the carriers' and the FCC's rules.
 *
 * - outbox.deliver_by: a message that must not arrive later than this (an opt-out confirmation:
 *   5 minutes after the STOP). The worker never hands it to a provider after that time and marks
 *   it `expired` instead, which admins see in the outbox.
 * - inbound_messages: the agent review queue (reviewed_at / reviewed_by, an index over what waits),
 *   the reply Heed queued for a message (reply_outbox_id), and replays of a message already
 *   handled (replay_count / last_replay_at: counted, never decided again).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`alter table outbox add column deliver_by timestamptz`,
    sql`alter table outbox drop constraint outbox_status_check`,
    sql`alter table outbox add constraint outbox_status_check
      check (status in ('pending', 'sending', 'sent', 'dead', 'expired'))`,
    sql`create index outbox_deliver_by_idx on outbox (deliver_by)
      where deliver_by is not null and status in ('pending', 'sending')`,
    sql`alter table inbound_messages
      add column reviewed_at timestamptz,
      add column reviewed_by uuid,
      add column reply_outbox_id bigint,
      add column replay_count integer not null default 0,
      add column last_replay_at timestamptz`,
    sql`create index inbound_messages_review_idx on inbound_messages (received_at, id)
      where decision = 'review'`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`drop index inbound_messages_review_idx`,
    sql`alter table inbound_messages
      drop column reviewed_at, drop column reviewed_by, drop column reply_outbox_id,
      drop column replay_count, drop column last_replay_at`,
    sql`drop index outbox_deliver_by_idx`,
    sql`update outbox set status = 'dead' where status = 'expired'`,
    sql`alter table outbox drop constraint outbox_status_check`,
    sql`alter table outbox add constraint outbox_status_check
      check (status in ('pending', 'sending', 'sent', 'dead'))`,
    sql`alter table outbox drop column deliver_by`,
  ];
  for (const s of statements) await s.execute(db);
}
