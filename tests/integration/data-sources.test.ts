import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditContext } from "~/admin/audit.server";
import { decideSend } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv } from "~/env.server";
import { runPendingImports } from "~/imports/jobs.server";
import { withImportTables } from "~/imports/schema";
import type { SourceFetchPolicy } from "~/sources/fetch.server";
import { claimDueSource, runDueSources } from "~/sources/runner.server";
import { withSourceTables, type DataSource } from "~/sources/schema";
import {
  createSource,
  getSourceView,
  listSourceRuns,
  listSources,
  previewDataSource,
  requestSourceRun,
  saveSourceMapping,
  updateSource,
  type SourceInput,
} from "~/sources/sources.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Scheduled data sources (issue 16.2) against a real HTTP server on 127.0.0.1. The SSRF guard
 * refuses loopback addresses: this test reaches its own server only through the explicit
 * test-only allowance (DATA_SOURCES_TEST_ALLOW_LOCAL, which production refuses, and a runner
 * policy allowing 127.0.0.1 alone), and every other private address stays refused.
 */

let t: TestDatabase;
let db: Db;
let dataDir: string;
let server: http.Server;
let other: http.Server;
let base: string;
let otherBase: string;
let flakyFails = true;
const seen: { path: string; authorization?: string; apiKey?: string }[] = [];

const BIG = 1024 * 1024 + 10; // just above DATA_SOURCE_MAX_MB=1

function routes(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url ?? "/", "http://x");
  seen.push({
    path: url.pathname,
    authorization: req.headers.authorization,
    apiKey: req.headers["x-api-key"] as string | undefined,
  });
  const send = (type: string, body: string) => {
    res.writeHead(200, { "Content-Type": type });
    res.end(body);
  };
  switch (url.pathname) {
    case "/list.csv":
      return send(
        "text/csv",
        "email;reason;name\r\ncsv-one@example.com;too frequent;One\r\nCSV-Two@Example.com;;Two\r\nnot-an-address;;Bad\r\n",
      );
    case "/list.json":
      return send(
        "application/json",
        JSON.stringify({
          meta: { count: 3 },
          data: {
            items: [
              { contact: { email: "json-one@example.com" }, channel: "email", why: "other" },
              { contact: { email: "+48 601 234 567" }, channel: "sms", why: "" },
              { contact: { email: "json-two@example.com" }, channel: "pigeon", why: "" },
            ],
          },
        }),
      );
    case "/list.xml":
      return send(
        "application/xml",
        `<?xml version="1.0"?><suppressions><generated>today</generated>
          <entry id="1"><address>xml-one@example.com</address><kind>email</kind></entry>
          <entry id="2"><address><![CDATA[xml-two@example.com]]></address><kind>e-mail</kind></entry>
        </suppressions>`,
      );
    case "/latin1.csv":
      // Windows-1252 (a Western European spreadsheet's "CSV"): é, ç, á are one byte each.
      res.writeHead(200, { "Content-Type": "text/csv" });
      return res.end(
        Buffer.from(
          "email;reason;city\r\nlatin1@example.com;Trop fréquent, déçu;Málaga\r\nautre@example.com;Reçu trop souvent;Besançon\r\n",
          "latin1",
        ),
      );
    case "/basic.csv":
      if (
        req.headers.authorization !==
        `Basic ${Buffer.from("mailkit:s3cret-pass").toString("base64")}`
      ) {
        res.writeHead(401, { "WWW-Authenticate": "Basic" });
        return res.end();
      }
      return send("text/csv", "email\r\nbasic@example.com\r\n");
    case "/bearer.json":
      if (req.headers.authorization !== "Bearer tok-123456789012")
        return void res.writeHead(401).end();
      return send("application/json", JSON.stringify(["bearer@example.com"]));
    case "/header.xml":
      if (req.headers["x-api-key"] !== "key-abcdefghijkl") return void res.writeHead(403).end();
      return send("application/xml", "<list><item email='header@example.com'/></list>");
    case "/redirect-ok":
      res.writeHead(302, { Location: "/list.csv" });
      return res.end();
    case "/redirect-private":
      res.writeHead(302, { Location: "http://169.254.169.254/latest/meta-data/" });
      return res.end();
    case "/redirect-other-origin":
      // Another port is another origin: no credentials follow.
      res.writeHead(302, { Location: `${otherBase}/basic.csv` });
      return res.end();
    case "/big-declared":
      res.writeHead(200, { "Content-Type": "text/csv", "Content-Length": String(BIG) });
      return res.end("email\r\n" + "a".repeat(BIG - 7));
    case "/big-chunked": {
      res.writeHead(200, { "Content-Type": "text/csv" });
      const line = "big@example.com\r\n".repeat(1000);
      let sent = 0;
      const more = () => {
        while (sent < BIG * 2) {
          sent += line.length;
          if (!res.write(line)) return void res.once("drain", more);
        }
        res.end();
      };
      res.on("error", () => {});
      return more();
    }
    case "/flaky.csv":
      if (flakyFails) {
        res.writeHead(503, { "Content-Type": "text/plain" });
        return res.end("down for maintenance");
      }
      return send("text/csv", "email\r\nflaky@example.com\r\n");
    default:
      res.writeHead(404);
      return res.end();
  }
}

const by: AuditContext = { actor: { type: "system", label: "test" } };
const env = () => ({
  ...getEnv(),
  dataDir,
  DATA_SOURCE_MAX_MB: 1,
  DATA_SOURCES_TEST_ALLOW_LOCAL: true,
});
/** The runner's policy: the test server's address only. */
const policy: SourceFetchPolicy = { allowPrivate: (ip) => ip === "127.0.0.1", allowHttp: true };
const runner = () => ({ env: env(), policy, workerId: `test-${process.pid}` });
const importRunner = () => ({ env: { ...getEnv(), dataDir }, workerId: `test-${process.pid}` });

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-sources-"));
  server = http.createServer(routes);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  other = http.createServer(routes);
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await new Promise((r) => other.close(r));
  await t?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function addSource(input: Partial<SourceInput> & { path: string }): Promise<DataSource> {
  const { path: p, ...rest } = input;
  const created = await createSource(
    db,
    {
      name: `source ${p} ${Math.random().toString(36).slice(2, 7)}`,
      url: `${base}${p}`,
      format: "csv",
      schedule: "daily",
      channel: "email",
      authType: "none",
      ...rest,
    },
    env(),
    by,
  );
  if (!created.ok) throw new Error(`${created.field}: ${created.message}`);
  return created.source;
}

/** Preview, keep the suggested mapping (with overrides), save it. */
async function mapFromPreview(source: DataSource, override: Record<string, unknown> = {}) {
  const preview = await previewDataSource(db, source.id, env());
  if (!preview?.ok) throw new Error(preview ? preview.message : "no source");
  const suggested = preview.preview.suggested!;
  const saved = await saveSourceMapping(db, source.id, { ...suggested, ...override }, by);
  if (!saved?.ok) throw new Error(saved ? saved.message : "no source");
  return { preview: preview.preview, source: saved.source };
}

async function runNow(source: DataSource) {
  expect(await requestSourceRun(db, source.id, by)).toBe(true);
  const runs = await runDueSources(db, runner());
  const run = runs.find((r) => r.source_id === source.id)!;
  expect(run).toBeDefined();
  await runPendingImports(db, importRunner());
  return (await listSourceRuns(db, source.id, 1))[0]!;
}

const blocked = async (channel: Channel, address: string) =>
  (await decideSend(db, { channel, address, category: "marketing" })).reason;

describe("data sources", () => {
  it("CSV: previews the columns, suggests the mapping, imports through the bulk door with the source's name", async () => {
    const source = await addSource({ path: "/list.csv", name: "Mailkit CSV" });
    const { preview } = await mapFromPreview(source);
    expect(preview.header).toBe(true);
    expect(preview.delimiter).toBe(";");
    expect(preview.lists[0]!.fields).toEqual(["email", "reason", "name"]);
    expect(preview.lists[0]!.count).toBe(3);
    expect(preview.suggested).toMatchObject({ address: "email", reason: "reason", channel: null });

    const run = await runNow(source);
    expect(run).toMatchObject({
      status: "imported",
      trigger: "manual",
      http_status: 200,
      records: 3,
      import_status: "completed",
      imported: 2,
      invalid: 1,
    });
    expect(await blocked("email", "csv-one@example.com")).toBe("unsubscribed");
    expect(await blocked("email", "csv-two@example.com")).toBe("unsubscribed");
    const job = await withImportTables(db)
      .selectFrom("import_jobs")
      .selectAll()
      .where("id", "=", run.import_job_id!)
      .executeTakeFirstOrThrow();
    expect(job.file_name).toBe("Mailkit CSV");
    const ledger = await db
      .selectFrom("consent_ledger")
      .selectAll()
      .where(sql<string>`details ->> 'import_id'`, "=", job.id)
      .execute();
    expect(ledger).toHaveLength(2);
    for (const row of ledger) {
      expect(row.source).toBe("import");
      expect(row.details).toMatchObject({ note: "import unsubscribe" });
    }
    expect(ledger.find((r) => r.address === "csv-one@example.com")?.reason_code).toBe(
      "too_frequent",
    );
    const errors = await withImportTables(db)
      .selectFrom("import_errors")
      .selectAll()
      .where("job_id", "=", job.id)
      .execute();
    expect(errors.map((e) => [e.value, e.reason])).toEqual([["not-an-address", "invalid_email"]]);

    // The run by hand left the schedule alone; a second run changes nothing (already suppressed).
    const again = await runNow(source);
    expect(again).toMatchObject({ imported: 0, already_suppressed: 2 });
  });

  it("CSV in a legacy code page (Windows-1252): the importer's encoding detection reads it right", async () => {
    const source = await addSource({ path: "/latin1.csv" });
    const { preview } = await mapFromPreview(source);
    expect(preview.encoding).toBe("windows-1252");
    expect(preview.lists[0]!.sample[0]).toMatchObject({
      reason: "Trop fréquent, déçu",
      city: "Málaga",
    });
    const run = await runNow(source);
    expect(run).toMatchObject({ status: "imported", imported: 2 });
    const rows = await db
      .selectFrom("consent_ledger")
      .select(["reason_text"])
      .where(sql<string>`details ->> 'import_id'`, "=", run.import_job_id!)
      .orderBy("id")
      .execute();
    expect(rows.map((r) => r.reason_text)).toEqual(["Trop fréquent, déçu", "Reçu trop souvent"]);
  });

  it("JSON: finds the nested list, nested fields and the channel per record", async () => {
    const source = await addSource({ path: "/list.json", format: "json", channel: null });
    const { preview } = await mapFromPreview(source, {
      address: "contact.email",
      channel: "channel",
    });
    expect(preview.lists.map((l) => l.records)).toContain("data.items");
    expect(preview.suggested?.records).toBe("data.items");
    expect(preview.lists[0]!.fields).toEqual(["contact.email", "channel", "why"]);
    const run = await runNow(source);
    expect(run).toMatchObject({ status: "imported", records: 3, imported: 2, invalid: 1 });
    expect(await blocked("email", "json-one@example.com")).toBe("unsubscribed");
    expect(await blocked("sms", "+48601234567")).toBe("unsubscribed");
    expect(await blocked("email", "json-two@example.com")).not.toBe("unsubscribed");
  });

  it("XML: streams the repeated element, child text, CDATA and attributes", async () => {
    const source = await addSource({ path: "/list.xml", format: "xml", channel: null });
    const { preview } = await mapFromPreview(source, { channel: "kind" });
    expect(preview.lists[0]).toMatchObject({ records: "entry", count: 2 });
    expect(preview.lists[0]!.fields).toEqual(["@id", "address", "kind"]);
    expect(preview.suggested?.address).toBe("address");
    const run = await runNow(source);
    expect(run).toMatchObject({ status: "imported", records: 2, imported: 2 });
    expect(await blocked("email", "xml-two@example.com")).toBe("unsubscribed");
  });

  it("sends basic, bearer and header authorization; never shows the secret back; keeps it on edit", async () => {
    const basic = await addSource({
      path: "/basic.csv",
      authType: "basic",
      authName: "mailkit",
      authSecret: "s3cret-pass",
    });
    await mapFromPreview(basic);
    expect(await runNow(basic)).toMatchObject({ status: "imported", imported: 1 });

    const bearer = await addSource({
      path: "/bearer.json",
      format: "json",
      authType: "bearer",
      authSecret: "tok-123456789012",
    });
    const { preview } = await mapFromPreview(bearer);
    expect(preview.lists[0]!.fields).toEqual(["(value)"]);
    expect(await runNow(bearer)).toMatchObject({ status: "imported", imported: 1 });

    const header = await addSource({
      path: "/header.xml",
      format: "xml",
      authType: "header",
      authName: "X-Api-Key",
      authSecret: "key-abcdefghijkl",
    });
    await mapFromPreview(header, { address: "@email" });
    expect(await runNow(header)).toMatchObject({ status: "imported", imported: 1 });
    expect(await blocked("email", "header@example.com")).toBe("unsubscribed");

    // What the admin area reads: a hint, never the secret.
    const views = await listSources(db);
    const json = JSON.stringify(views);
    for (const secret of ["s3cret-pass", "tok-123456789012", "key-abcdefghijkl"]) {
      expect(json).not.toContain(secret);
    }
    expect(views.find((v) => v.id === bearer.id)?.secretHint).toBe("••••••••9012");
    const audit = await db.selectFrom("audit_log").select("details").execute();
    expect(JSON.stringify(audit)).not.toContain("s3cret-pass");

    // An edit with the secret left empty keeps it.
    const edited = await updateSource(
      db,
      basic.id,
      {
        name: basic.name,
        url: basic.url,
        format: "csv",
        schedule: "hourly",
        channel: "email",
        authType: "basic",
        authName: "mailkit",
        authSecret: "",
      },
      env(),
      by,
    );
    expect(edited?.ok).toBe(true);
    expect(await runNow(basic)).toMatchObject({ status: "imported", already_suppressed: 1 });

    // A wrong secret: the run fails with the server's answer.
    await updateSource(
      db,
      basic.id,
      {
        name: basic.name,
        url: basic.url,
        format: "csv",
        schedule: "hourly",
        channel: "email",
        authType: "basic",
        authName: "mailkit",
        authSecret: "wrong",
      },
      env(),
      by,
    );
    expect(await runNow(basic)).toMatchObject({
      status: "failed",
      http_status: 401,
      error: "The server answered 401 Unauthorized.",
    });
  });

  it("follows a redirect on the same server, refuses one to a private address, and sends no credentials to another origin", async () => {
    const ok = await addSource({ path: "/redirect-ok" });
    await mapFromPreview(ok);
    expect(await runNow(ok)).toMatchObject({ status: "imported", records: 3 });

    const bad = await addSource({ path: "/redirect-private" });
    const preview = await previewDataSource(db, bad.id, env());
    expect(preview).toMatchObject({ ok: false });
    expect(preview?.ok === false && preview.message).toMatch(
      /redirect to 169\.254\.169\.254.*refused.*linkLocal/,
    );
    await saveSourceMapping(
      db,
      bad.id,
      { records: "", address: "email", channel: null, reason: null },
      by,
    );
    const run = await runNow(bad);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/redirect to 169\.254\.169\.254.*refused/);
    expect(seen.some((s) => s.path.startsWith("/latest"))).toBe(false);

    // A URL on a private address is refused when the source is added (no test allowance).
    const refused = await createSource(
      db,
      {
        name: "internal",
        url: "https://10.1.2.3/list.csv",
        format: "csv",
        schedule: "daily",
        channel: "email",
        authType: "none",
      },
      env(),
      by,
    );
    expect(refused).toMatchObject({ ok: false, field: "url" });
    // Without the test-only switch, the test server itself is refused too (and http:// is).
    const strict = await createSource(
      db,
      {
        name: "strict",
        url: `${base}/list.csv`,
        format: "csv",
        schedule: "daily",
        channel: "email",
        authType: "none",
      },
      { ...env(), DATA_SOURCES_TEST_ALLOW_LOCAL: false },
      by,
    );
    expect(strict).toMatchObject({ ok: false, field: "url" });

    // Credentials go to the URL's origin only: a redirect to another port is another origin.
    const cross = await createSource(
      db,
      {
        name: "cross",
        url: `${base}/redirect-other-origin`,
        format: "csv",
        schedule: "daily",
        channel: "email",
        authType: "bearer",
        authSecret: "tok-123456789012",
      },
      env(),
      by,
    );
    expect(cross.ok).toBe(true);
    seen.length = 0;
    const crossPreview = await previewDataSource(
      db,
      (cross as { source: DataSource }).source.id,
      env(),
    );
    expect(seen.map((s) => [s.path, s.authorization])).toEqual([
      ["/redirect-other-origin", "Bearer tok-123456789012"],
      ["/basic.csv", undefined],
    ]);
    expect(crossPreview).toMatchObject({
      ok: false,
      message: "The server answered 401 Unauthorized.",
    });
  });

  it("refuses a too-large answer, declared or streamed, and records why", async () => {
    for (const p of ["/big-declared", "/big-chunked"]) {
      const source = await addSource({ path: p });
      await saveSourceMapping(
        db,
        source.id,
        {
          records: "",
          header: true,
          delimiter: ",",
          address: "email",
          channel: null,
          reason: null,
        },
        by,
      );
      const run = await runNow(source);
      expect(run.status, p).toBe("failed");
      expect(run.error, p).toMatch(/too large.*DATA_SOURCE_MAX_MB/);
      expect(run.import_job_id).toBeNull();
    }
    const leftovers = fs
      .readdirSync(path.join(dataDir, "imports"))
      .filter((f) => f.endsWith(".tmp"));
    expect(leftovers).toEqual([]);
  });

  it("a failing source is recorded with why, and is tried again at its next run", async () => {
    flakyFails = true;
    const source = await addSource({ path: "/flaky.csv", schedule: "hourly" });
    await saveSourceMapping(
      db,
      source.id,
      { records: "", header: true, delimiter: ",", address: "email", channel: null, reason: null },
      by,
    );
    // Due now (a new source is due at once): the scheduled run fails.
    let runs = await runDueSources(db, runner());
    const failed = runs.find((r) => r.source_id === source.id);
    expect(failed).toMatchObject({ status: "failed", trigger: "schedule", http_status: 503 });
    expect(failed?.error).toBe("The server answered 503 Service Unavailable.");
    const view = await getSourceView(db, source.id);
    expect(view?.lastRun?.status).toBe("failed");
    // Not due again before its next run.
    runs = await runDueSources(db, runner());
    expect(runs.find((r) => r.source_id === source.id)).toBeUndefined();
    const next = await withSourceTables(db)
      .selectFrom("data_sources")
      .select(sql<number>`extract(epoch from next_run_at - now())`.as("in"))
      .where("id", "=", source.id)
      .executeTakeFirstOrThrow();
    expect(Number(next.in)).toBeGreaterThan(3500);
    // The hour passes; the server is back.
    flakyFails = false;
    await withSourceTables(db)
      .updateTable("data_sources")
      .set({ next_run_at: sql<Date>`now() - interval '1 second'` })
      .where("id", "=", source.id)
      .execute();
    runs = await runDueSources(db, runner());
    expect(runs.find((r) => r.source_id === source.id)).toMatchObject({
      status: "imported",
      trigger: "schedule",
    });
    await runPendingImports(db, importRunner());
    expect(await blocked("email", "flaky@example.com")).toBe("unsubscribed");
  });

  it("two servers never claim the same source; a source without a mapping never runs", async () => {
    const source = await addSource({ path: "/list.csv" });
    // No mapping yet: not due, and "run now" is refused.
    expect(await requestSourceRun(db, source.id, by)).toBe(false);
    await mapFromPreview(source);
    const claims = await Promise.all([
      claimDueSource(db, "server-a"),
      claimDueSource(db, "server-b"),
    ]);
    const mine = claims.filter((c) => c?.source.id === source.id);
    expect(mine).toHaveLength(1);
    // Still leased and not due: nobody claims it again.
    expect((await claimDueSource(db, "server-c"))?.source.id).not.toBe(source.id);
  });
});
