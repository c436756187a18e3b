import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv, type Env } from "~/env.server";
import type { OutboxDelivery, TransportContext } from "~/outbox/types";
import { createSmsTransport } from "~/sms/transport.server";

/** The Twilio REST transport against a local server that answers like Twilio's Messages API. */

type Seen = { path: string; auth: string; form: URLSearchParams; raw: string };
const seen: Seen[] = [];
let answer: { status: number; body: unknown } = { status: 201, body: { sid: "SM123" } };
let server: http.Server;
let baseUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      seen.push({
        path: req.url ?? "",
        auth: req.headers.authorization ?? "",
        form: new URLSearchParams(data),
        raw: data,
      });
      res.writeHead(answer.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const SID = "AC" + "0123456789abcdef".repeat(2);
const configured = parseEnv({
  TWILIO_ACCOUNT_SID: SID,
  TWILIO_AUTH_TOKEN: "secret-token",
  TWILIO_FROM: "+14155550100",
  TWILIO_WHATSAPP_FROM: "+14155550199",
});
const ctx = (env: Env): TransportContext => ({
  db: undefined as never,
  env,
  logger: pino({ level: "silent" }),
});
const msg = (recipient: string, body = "Acme: you are unsubscribed."): OutboxDelivery => ({
  id: 1,
  kind: "sms",
  recipient,
  payload: { body },
  attempts: 0,
  maxAttempts: 8,
  uid: "00000000-0000-4000-8000-000000000001",
});

describe("SMS transport (Twilio REST)", () => {
  it("posts To, From and Body with basic auth to the account's Messages endpoint", async () => {
    answer = { status: 201, body: { sid: "SM123" } };
    const result = await createSmsTransport({ baseUrl })(msg("+48601000001"), ctx(configured));
    expect(result).toEqual({ ok: true, detail: "Twilio SM123" });
    const req = seen.at(-1)!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(req.auth).toBe(`Basic ${Buffer.from(`${SID}:secret-token`).toString("base64")}`);
    expect(Object.fromEntries(req.form)).toEqual({
      To: "+48601000001",
      From: "+14155550100",
      Body: "Acme: you are unsubscribed.",
    });
  });

  it("sends WhatsApp from the WhatsApp sender", async () => {
    answer = { status: 201, body: { sid: "SM124" } };
    await createSmsTransport({ baseUrl })(msg("whatsapp:+48601000002"), ctx(configured));
    expect(Object.fromEntries(seen.at(-1)!.form)).toMatchObject({
      To: "whatsapp:+48601000002",
      From: "whatsapp:+14155550199",
    });
  });

  it("gives up on a 4xx (e.g. an unsubscribed recipient) and retries a 429 or 5xx", async () => {
    answer = {
      status: 400,
      body: { code: 21610, message: "Attempt to send to unsubscribed recipient" },
    };
    const refused = await createSmsTransport({ baseUrl })(msg("+48601000003"), ctx(configured));
    expect(refused).toEqual({
      ok: false,
      permanent: true,
      error: expect.stringContaining("21610"),
    });
    answer = { status: 503, body: { message: "unavailable" } };
    expect(
      await createSmsTransport({ baseUrl })(msg("+48601000003"), ctx(configured)),
    ).toMatchObject({ ok: false, permanent: false });
    answer = { status: 429, body: { message: "slow down" } };
    expect(
      await createSmsTransport({ baseUrl })(msg("+48601000003"), ctx(configured)),
    ).toMatchObject({ ok: false, permanent: false });
  });

  it("retries when Twilio cannot be reached", async () => {
    const result = await createSmsTransport({ baseUrl: "http://127.0.0.1:1" })(
      msg("+48601000004"),
      ctx(configured),
    );
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining("unreachable") });
    expect((result as { permanent?: boolean }).permanent).toBeFalsy();
  });

  it("keeps messages in the development outbox when Twilio is not configured, and refuses in production", async () => {
    const before = seen.length;
    const dev = await createSmsTransport({ baseUrl })(
      msg("+48601000005"),
      ctx(parseEnv({ NODE_ENV: "development" })),
    );
    expect(dev).toMatchObject({ ok: true, detail: expect.stringContaining("development outbox") });
    const prod = await createSmsTransport({ baseUrl })(
      msg("+48601000005"),
      ctx(parseEnv({ NODE_ENV: "production", PUBLIC_URL: "https://heed.example" })),
    );
    expect(prod).toMatchObject({
      ok: false,
      permanent: true,
      error: expect.stringContaining("SMS is not configured"),
    });
    expect(seen.length).toBe(before);
  });

  it("in production, refuses WhatsApp when no provider has a WhatsApp sender", async () => {
    const env = parseEnv({
      NODE_ENV: "production",
      PUBLIC_URL: "https://heed.example",
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: "secret-token",
      TWILIO_FROM: "+14155550100",
    });
    expect(
      await createSmsTransport({ baseUrl })(msg("whatsapp:+48601000006"), ctx(env)),
    ).toMatchObject({ ok: false, permanent: true, error: expect.stringContaining("WhatsApp") });
  });
});

describe("SMS transport: the other providers' REST APIs", () => {
  const all = parseEnv({
    TWILIO_ACCOUNT_SID: SID,
    TWILIO_AUTH_TOKEN: "secret-token",
    TWILIO_FROM: "+14155550100",
    VONAGE_API_KEY: "vkey",
    VONAGE_API_SECRET: "vsecret",
    VONAGE_FROM: "+14155550101",
    PLIVO_AUTH_ID: "MAXXXXXXXXXXXXXXXXXX",
    PLIVO_AUTH_TOKEN: "plivo-token-123",
    PLIVO_FROM: "+14155550102",
    TELNYX_API_KEY: "KEYtelnyx",
    TELNYX_FROM: "+14155550103",
    WHATSAPP_ACCESS_TOKEN: "EAAGmeta",
    WHATSAPP_PHONE_NUMBER_ID: "106540352242922",
  });
  const base = () => ({
    twilio: baseUrl,
    vonage: baseUrl,
    plivo: baseUrl,
    telnyx: baseUrl,
    meta: baseUrl,
  });
  const reply = (recipient: string, provider: string, from: string): OutboxDelivery => ({
    ...msg(recipient, "Acme: HELP text"),
    payload: { body: "Acme: HELP text", provider, from },
  });
  const lastJson = () => JSON.parse(seen.at(-1)!.raw) as Record<string, unknown>;

  it("replies through the provider the message came from, from the number it was sent to", async () => {
    const t = createSmsTransport({ baseUrls: base() });
    answer = { status: 202, body: { message_uuid: "vonage-uuid" } };
    expect(await t(reply("+48601000010", "vonage", "+14155550111"), ctx(all))).toEqual({
      ok: true,
      detail: "Vonage vonage-uuid",
    });
    expect(seen.at(-1)!.path).toBe("/v1/messages");
    expect(seen.at(-1)!.auth).toBe(`Basic ${Buffer.from("vkey:vsecret").toString("base64")}`);
    expect(lastJson()).toEqual({
      message_type: "text",
      channel: "sms",
      to: "48601000010",
      from: "14155550111",
      text: "Acme: HELP text",
    });

    answer = { status: 202, body: { message_uuid: ["plivo-uuid"] } };
    expect(await t(reply("+48601000011", "plivo", "+14155550112"), ctx(all))).toMatchObject({
      ok: true,
      detail: "Plivo plivo-uuid",
    });
    expect(seen.at(-1)!.path).toBe("/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/");
    expect(lastJson()).toEqual({
      src: "+14155550112",
      dst: "+48601000011",
      text: "Acme: HELP text",
    });

    answer = { status: 200, body: { data: { id: "telnyx-id" } } };
    expect(await t(reply("+48601000012", "telnyx", "+14155550113"), ctx(all))).toMatchObject({
      ok: true,
      detail: "Telnyx telnyx-id",
    });
    expect(seen.at(-1)!.path).toBe("/v2/messages");
    expect(seen.at(-1)!.auth).toBe("Bearer KEYtelnyx");
    expect(lastJson()).toEqual({
      to: "+48601000012",
      text: "Acme: HELP text",
      from: "+14155550113",
    });

    answer = { status: 200, body: { messages: [{ id: "wamid.X" }] } };
    expect(await t(reply("whatsapp:+48601000013", "meta", "14155550114"), ctx(all))).toMatchObject({
      ok: true,
      detail: "WhatsApp Cloud API wamid.X",
    });
    expect(seen.at(-1)!.path).toBe("/v21.0/106540352242922/messages");
    expect(seen.at(-1)!.auth).toBe("Bearer EAAGmeta");
    expect(lastJson()).toMatchObject({
      messaging_product: "whatsapp",
      to: "48601000013",
      type: "text",
      text: { body: "Acme: HELP text" },
    });
  });

  it("uses the channel's configured provider for anything else (SMS_PROVIDER)", async () => {
    const env = parseEnv({
      ...process.env,
      SMS_PROVIDER: "telnyx",
      TELNYX_API_KEY: "KEYt",
      TELNYX_FROM: "+14155550103",
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: "secret-token",
      TWILIO_FROM: "+14155550100",
    });
    answer = { status: 200, body: { data: { id: "t2" } } };
    await createSmsTransport({ baseUrls: base() })(msg("+48601000014"), ctx(env));
    expect(seen.at(-1)!.path).toBe("/v2/messages");
    expect(lastJson()).toMatchObject({ from: "+14155550103", to: "+48601000014" });
  });

  it("maps a provider's 4xx to a permanent failure with its message", async () => {
    answer = {
      status: 401,
      body: { errors: [{ code: "10009", title: "Authentication failed", detail: "bad key" }] },
    };
    const r = await createSmsTransport({ baseUrls: base() })(
      reply("+48601000015", "telnyx", "+14155550113"),
      ctx(all),
    );
    expect(r).toMatchObject({
      ok: false,
      permanent: true,
      error: expect.stringContaining("Telnyx HTTP 401"),
    });
  });
});
