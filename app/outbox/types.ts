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
  /** Attempts allowed in all: this one is the last when attempts + 1 >= maxAttempts. */
  maxAttempts: number;
  /** The message's random id, the same on every attempt (Message-ID, webhook-id). */
  uid: string;
};

export type DeliveryResult =
  | { ok: true; detail?: string }
  | {
      ok: false;
      error: string;
      /** Do not retry (dead now), e.g. a 410 from a webhook endpoint or a rejected address. */
      permanent?: boolean;
      /** When to try again; without it the worker's own backoff decides. */
      retryAt?: Date;
      /**
       * Nothing was sent (e.g. the receiver asked for a pause): the attempt does not count, and
       * the message waits until `retryAt`, which is then required.
       */
      notAttempted?: boolean;
    };

export type TransportContext = {
  db: Db;
  env: Env;
  logger: Logger;
  /** The worker's clock for scheduling (tests drive it); the wall clock by default. */
  now?: () => Date;
};

/** Delivers one message of one kind. The outbox worker retries failures with backoff. */
export type Transport = (
  delivery: OutboxDelivery,
  ctx: TransportContext,
) => Promise<DeliveryResult>;
