import type { Logger } from "pino";
import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import type { OutboxKind } from "~/outbox/outbox.server";

/** One claimed outbox row, as a transport sees it. */
export type OutboxDelivery = {
  id: number;
  kind: OutboxKind;
  recipient: string;
  payload: Record<string, unknown>;
  /** Attempts made before this one. */
  attempts: number;
};

export type DeliveryResult =
  | { ok: true; detail?: string }
  /** permanent: do not retry (dead now), e.g. a 410 from a webhook endpoint or a rejected address. */
  | { ok: false; error: string; permanent?: boolean };

export type TransportContext = { db: Db; env: Env; logger: Logger };

/** Delivers one message of one kind. The outbox worker retries failures with backoff. */
export type Transport = (
  delivery: OutboxDelivery,
  ctx: TransportContext,
) => Promise<DeliveryResult>;
