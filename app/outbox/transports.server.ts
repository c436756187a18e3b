import { emailTransport } from "~/mail/transport.server";
import { smsTransport } from "~/sms/transport.server";
import { webhookTransport } from "~/webhooks/transport.server";
import type { OutboxKind } from "./outbox.server";
import type { Transport } from "./types";

export type TransportMap = Partial<Record<OutboxKind, Transport>>;

/**
 * Which transport delivers each kind of outbox message. A message whose kind has no transport
 * here fails with a clear error, and is retried and finally dead like any other failure.
 */
export const TRANSPORTS: TransportMap = {
  email: emailTransport,
  sms: smsTransport,
  webhook: webhookTransport,
};
