import fs from "node:fs";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Db } from "~/db/db.server";
import { ConfigError, type Env } from "~/env.server";
import {
  acceptsRecipient,
  handleFeedbackReport,
  handleMailtoMessage,
  recipientKind,
} from "~/email/inbound-mail.server";
import { parseEmail, sha256 } from "~/email/mime.server";
import { hitRateLimit } from "~/security/rate-limit.server";

/**
 * The optional inbound SMTP listener (INBOUND_SMTP_PORT), started by the server process: it
 * receives messages to the List-Unsubscribe mailto addresses and feedback-loop reports at
 * INBOUND_FBL_ADDRESS. It is not a mail server:
 *
 * - only those recipients are accepted, checked at RCPT time (a forged or unknown mailto code
 *   and any other address get 550, so nothing about them is ever received);
 * - no authentication and no relaying; STARTTLS only when INBOUND_SMTP_TLS_CERT/KEY are set;
 * - messages over INBOUND_SMTP_MAX_BYTES are refused (552; also announced with SIZE and refused
 *   at MAIL FROM when the client declares a larger size) and never parsed;
 * - at most INBOUND_SMTP_MAX_CONNECTIONS_PER_IP connections per client IP in this process, and
 *   INBOUND_SMTP_MESSAGES_PER_MINUTE messages per IP across every server (a database counter);
 * - a message is decided on before the final 250, so a database failure answers 451 and the
 *   sending server retries later; nothing is ever sent back to the message's sender.
 */

export type InboundSmtpOptions = {
  port: number;
  host: string;
  maxBytes: number;
  maxConnectionsPerIp: number;
  messagesPerMinute: number;
  tls?: { key: Buffer; cert: Buffer };
  /** Recipients per message (more get 452). */
  maxRecipients?: number;
  /** Seconds a closing listener waits for open sessions. */
  closeTimeoutMs?: number;
};

export type InboundSmtp = { port: number; close(): Promise<void> };

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export function inboundSmtpOptions(env: Env): InboundSmtpOptions | null {
  if (env.INBOUND_SMTP_PORT === undefined) return null;
  const certPath = env.INBOUND_SMTP_TLS_CERT;
  const keyPath = env.INBOUND_SMTP_TLS_KEY;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new ConfigError(
      "Invalid configuration:\n  INBOUND_SMTP_TLS_CERT and INBOUND_SMTP_TLS_KEY must be set together",
    );
  }
  let tls: InboundSmtpOptions["tls"];
  if (certPath && keyPath) {
    try {
      tls = { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) };
    } catch (e) {
      throw new ConfigError(
        `Invalid configuration:\n  INBOUND_SMTP_TLS_CERT/KEY: ${(e as Error).message}`,
      );
    }
  }
  return {
    port: env.INBOUND_SMTP_PORT,
    host: env.INBOUND_SMTP_HOST ?? env.HOST,
    maxBytes: env.INBOUND_SMTP_MAX_BYTES,
    maxConnectionsPerIp: env.INBOUND_SMTP_MAX_CONNECTIONS_PER_IP,
    messagesPerMinute: env.INBOUND_SMTP_MESSAGES_PER_MINUTE,
    tls,
  };
}

/** Reads the DATA stream up to `max` bytes; beyond that the rest is drained and dropped. */
function readCapped(stream: SMTPServerDataStream, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    stream.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      if (!over) chunks.push(c);
    });
    stream.on("end", () => resolve(over || stream.sizeExceeded ? null : Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

export async function startInboundSmtp(
  db: Db,
  options: InboundSmtpOptions,
  logger?: Pick<Logger, "info" | "warn" | "error">,
): Promise<InboundSmtp> {
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const maxRecipients = options.maxRecipients ?? 20;

  async function process(raw: Buffer, session: SMTPServerSession): Promise<string> {
    const rcpts = session.envelope.rcptTo.map((r) => r.address);
    const kinds = rcpts.map((r) => recipientKind(r));
    const parts: string[] = [];
    if (kinds.some((k) => k?.kind === "fbl")) {
      const r = await handleFeedbackReport(db, raw);
      parts.push(`report ${r.complaint ? (r.duplicates ? "duplicate" : "accepted") : "ignored"}`);
    }
    if (kinds.some((k) => k?.kind === "mailto")) {
      const headers = await parseEmail(raw);
      const r = await handleMailtoMessage(db, {
        provider: "smtp",
        messageId: headers.messageId,
        fallbackId: `sha256:${sha256(raw)}`,
        recipients: rcpts,
        subject: headers.subject,
      });
      parts.push(`${r.codes} unsubscribe request${r.codes === 1 ? "" : "s"}`);
    }
    return parts.join(", ");
  }

  const server = new SMTPServer({
    banner: "Heed inbound (unsubscribe and feedback reports only)",
    size: options.maxBytes,
    authOptional: true,
    disabledCommands: options.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
    hideSTARTTLS: !options.tls,
    secure: false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    maxClients: 200,
    socketTimeout: 60_000,
    closeTimeout: options.closeTimeoutMs ?? 10_000,
    logger: false,
    onConnect(session, cb) {
      const ip = session.remoteAddress;
      const n = perIp.get(ip) ?? 0;
      if (n >= options.maxConnectionsPerIp) {
        cb(smtpError(421, "Too many connections from your address, try again later"));
        return;
      }
      perIp.set(ip, n + 1);
      counted.add(session.id);
      cb();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      const ip = session.remoteAddress;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    },
    onMailFrom(_address, session, cb) {
      hitRateLimit(db, `smtp:ip:${session.remoteAddress}`, {
        limit: options.messagesPerMinute,
        windowSeconds: 60,
      }).then(
        (r) =>
          cb(r.allowed ? null : smtpError(451, "Too many messages from your address, try later")),
        () => cb(smtpError(451, "Temporary failure, try again later")),
      );
    },
    onRcptTo(address, session, cb) {
      if (session.envelope.rcptTo.length >= maxRecipients) {
        cb(smtpError(452, "Too many recipients"));
        return;
      }
      acceptsRecipient(db, address.address).then(
        (ok) => cb(ok ? null : smtpError(550, "No such recipient here")),
        () => cb(smtpError(451, "Temporary failure, try again later")),
      );
    },
    onData(stream, session, cb) {
      readCapped(stream, options.maxBytes)
        .then(async (raw) => {
          if (!raw) {
            cb(smtpError(552, `Message larger than ${options.maxBytes} bytes`));
            return;
          }
          const summary = await process(raw, session);
          cb(null, `Thank you${summary ? ` (${summary})` : ""}`);
        })
        .catch((err: unknown) => {
          logger?.error({ err }, "inbound SMTP: could not process a message");
          cb(smtpError(451, "Temporary failure, try again later"));
        });
    },
  });
  server.on("error", (err) => logger?.warn({ err }, "inbound SMTP: connection error"));

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.server.off("error", reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  logger?.info({ port, host: options.host, tls: Boolean(options.tls) }, "inbound SMTP listening");
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
