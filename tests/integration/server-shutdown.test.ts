/**
 * A server given SIGTERM exits within SHUTDOWN_TIMEOUT_MS whatever is still going on (issue 11,
 * item 10): an idle keep-alive connection (which would otherwise idle for keepAliveTimeout), a
 * request whose body never arrives, and an outbox delivery to a webhook receiver that never
 * answers (background work). Without that, it exits as soon as it is idle.
 * The real built server on PGlite (the default), in production mode.
 */
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openPglite } from "~/db/db.server";
import { signLinkToken } from "~/links/tokens.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { startServer, type RunningServer } from "./server.helpers";

const onPglite = (process.env.HEED_TEST_DB ?? "pglite") === "pglite";
const TIMEOUT_MS = 3_000;
const TWILIO_TOKEN = "shutdown-twilio-token-0123456789";

let dataDir: string;
let token: string;
let hung: http.Server;
const hungRequests: http.IncomingMessage[] = [];

/** A data directory with a contact and a webhook endpoint, made before the server starts. */
async function seed() {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-shutdown-"));
  const handle = await openPglite(dataDir, {
    loadDataDir: new Blob([fs.readFileSync(inject("pgliteTemplate"))]),
  });
  try {
    const [c] = await handle.db
      .insertInto("contacts")
      .values({ email: "leaving@shutdown.example" })
      .returning("id")
      .execute();
    token = await signLinkToken({ contactId: c!.id, channel: "email", purpose: "unsubscribe" });
    const endpoint = await createWebhookEndpoint(
      handle.db,
      {
        url: `http://127.0.0.1:${(hung.address() as net.AddressInfo).port}/never`,
        eventTypes: ["consent.unsubscribe"],
      },
      { allowPrivate: true, requireHttps: false },
    );
    expect(endpoint.ok).toBe(true);
  } finally {
    await handle.close();
  }
}

async function start(): Promise<RunningServer> {
  return startServer({
    HEED_DATA_DIR: dataDir,
    SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS),
    OUTBOX_POLL_MS: "200",
    WEBHOOKS_ALLOW_PRIVATE: "1",
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  });
}

/** A kept-alive connection that has served one request and now idles. */
async function idleKeepAlive(url: string): Promise<net.Socket> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const req = http.get(`${url}/healthz`, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(req.socket!));
    });
    req.on("error", reject);
  });
  return socket;
}

/** A request whose body never finishes: the route waits for it. */
function stalledRequest(port: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    "POST /webhooks/sms/twilio HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: x\r\n" +
      "Content-Length: 1000\r\n\r\nFrom=%2B4860",
  );
  return socket;
}

function closedAt(socket: net.Socket): Promise<number> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(Date.now());
    socket.on("close", () => resolve(Date.now()));
  });
}

beforeAll(async () => {
  if (!onPglite) return;
  hung = http.createServer((req) => {
    hungRequests.push(req); // never answered
  });
  await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
  await seed();
}, 120_000);

afterAll(async () => {
  hung?.closeAllConnections();
  await new Promise((r) => (hung ? hung.close(r) : r(null)));
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!onPglite)("stopping the server", () => {
  it("exits soon after SIGTERM when idle, closing kept-alive connections", async () => {
    const server = await start();
    try {
      const idle = await idleKeepAlive(server.url);
      const idleClosed = closedAt(idle);
      const signalled = Date.now();
      server.process.kill("SIGTERM");
      const exit = await server.exited;
      expect(exit.code).toBe(0);
      await idleClosed;
      // It did not wait for the timeout (nor for keepAliveTimeout): nothing was in flight.
      expect(exit.at - signalled).toBeLessThan(TIMEOUT_MS);
      expect(server.output()).toMatch(/"msg":"stopped"/);
    } finally {
      await server.stop();
    }
  });

  it("exits within SHUTDOWN_TIMEOUT_MS with a stalled request, an idle kept-alive connection and a webhook delivery that never ends", async () => {
    const server = await start();
    try {
      // A consent change queues a webhook; the outbox worker posts it to a receiver that hangs.
      const before = hungRequests.length;
      const click = await fetch(`${server.url}/u/${token}`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      expect(click.status).toBe(200);
      for (let i = 0; hungRequests.length === before; i++) {
        if (i > 300) throw new Error("the webhook delivery did not start");
        await new Promise((r) => setTimeout(r, 100));
      }
      const idle = await idleKeepAlive(server.url);
      const stalled = stalledRequest(server.port);
      await new Promise((r) => setTimeout(r, 200));
      const idleClosed = closedAt(idle);
      const stalledClosed = closedAt(stalled);

      const signalled = Date.now();
      server.process.kill("SIGTERM");
      const exit = await server.exited;
      // The idle connection closes at once, the stalled one when the timeout forces it.
      expect((await idleClosed) - signalled).toBeLessThan(TIMEOUT_MS / 2);
      expect(await stalledClosed).toBeLessThanOrEqual(exit.at + 1_000);
      // Within the timeout (plus what the operating system takes to end a process).
      expect(exit.at - signalled).toBeLessThan(TIMEOUT_MS + 1_000);
      expect(server.output()).toMatch(/shutdown timeout/);
    } finally {
      await server.stop();
    }
  });
});
