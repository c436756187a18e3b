import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { isUuid } from "~/db/ids";
import type { Channel } from "~/db/schema";
import type { Env } from "~/env.server";
import { importsDir } from "~/imports/jobs.server";
import { ImportFileError } from "~/imports/read.server";
import { checkOutboundUrl, SsrfError } from "~/security/outbound.server";
import { fetchToFile, SourceFetchError, type SourceFetchPolicy } from "~/sources/fetch.server";
import {
  withSourceTables,
  type DataSource,
  type DataSourceRun,
  type SourceAuthType,
  type SourceFormat,
  type SourceMapping,
  type SourceSchedule,
} from "~/sources/schema";
import { previewSource, type SourcePreview } from "~/sources/structure.server";

/**
 * Scheduled data sources as the admin area manages them (docs/admin.md, "Data sources"): each
 * change and its audit row in one transaction; the URL is checked by the SSRF guard before the
 * transaction opens (a slow DNS answer never holds one open). The runs themselves are in
 * runner.server.ts.
 */

export type SourceEnv = Pick<
  Env,
  | "dataDir"
  | "isProduction"
  | "DATA_SOURCE_MAX_MB"
  | "DATA_SOURCE_TIMEOUT_SECONDS"
  | "DATA_SOURCES_TEST_ALLOW_LOCAL"
>;

/** The guard's allowance: none, unless the test-only switch is on (never in production). */
export function sourceFetchPolicy(env: SourceEnv): SourceFetchPolicy {
  if (!env.DATA_SOURCES_TEST_ALLOW_LOCAL || env.isProduction) return {};
  return { allowPrivate: (ip) => ip === "127.0.0.1" || ip === "::1", allowHttp: true };
}

export function fetchLimits(env: SourceEnv) {
  return {
    maxBytes: env.DATA_SOURCE_MAX_MB * 1024 * 1024,
    timeoutMs: env.DATA_SOURCE_TIMEOUT_SECONDS * 1000,
  };
}

export type SourceInput = {
  name: string;
  url: string;
  format: SourceFormat;
  schedule: SourceSchedule;
  /** Null: each record names its channel (the mapping's channel field). */
  channel: Channel | null;
  authType: SourceAuthType;
  /** basic: user name; header: header name. */
  authName?: string | null;
  /** On update, empty keeps the stored secret. */
  authSecret?: string | null;
  enabled?: boolean;
};

export type SourceResult =
  | { ok: true; source: DataSource }
  | { ok: false; field: keyof SourceInput | "mapping"; message: string };

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** Headers the HTTP exchange itself owns. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "cookie",
  "accept-encoding",
]);

/** The request headers that authorize a fetch. */
export function authHeaders(
  s: Pick<DataSource, "auth_type" | "auth_name" | "auth_secret">,
): Record<string, string> {
  const secret = s.auth_secret ?? "";
  switch (s.auth_type) {
    case "basic":
      return {
        Authorization: `Basic ${Buffer.from(`${s.auth_name ?? ""}:${secret}`).toString("base64")}`,
      };
    case "bearer":
      return { Authorization: `Bearer ${secret}` };
    case "header":
      return s.auth_name ? { [s.auth_name]: secret } : {};
    default:
      return {};
  }
}

/** What the admin area shows of a stored secret: its last 4 characters at most. */
export function maskSecret(secret: string | null): string | null {
  if (!secret) return null;
  const tail = secret.length >= 12 ? secret.slice(-4) : "";
  return `••••••••${tail}`;
}

async function checkInput(
  input: SourceInput,
  env: SourceEnv,
  existing: DataSource | null,
): Promise<{ ok: false; field: keyof SourceInput; message: string } | { ok: true; url: string }> {
  const policy = sourceFetchPolicy(env);
  const checked = await checkOutboundUrl(input.url, {
    allowPrivate: policy.allowPrivate,
    requireHttps: !policy.allowHttp,
  });
  if (!checked.ok) {
    return { ok: false, field: "url", message: `This URL cannot be used: it ${checked.reason}.` };
  }
  const secret = input.authSecret?.trim() ? input.authSecret : null;
  const keepsSecret =
    existing !== null && existing.auth_type === input.authType && existing.auth_secret;
  if (input.authType !== "none" && !secret && !keepsSecret) {
    return {
      ok: false,
      field: "authSecret",
      message: "Enter the password, token or header value.",
    };
  }
  if (secret && /[\r\n\0]/.test(secret)) {
    return { ok: false, field: "authSecret", message: "The secret cannot contain line breaks." };
  }
  if (input.authType === "basic" && (!input.authName?.trim() || input.authName.includes(":"))) {
    return { ok: false, field: "authName", message: "Enter the user name (without a colon)." };
  }
  if (input.authType === "header") {
    const name = input.authName?.trim() ?? "";
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
      return {
        ok: false,
        field: "authName",
        message: "Enter a header name such as X-Api-Key (letters, digits and dashes).",
      };
    }
  }
  return { ok: true, url: checked.url.toString() };
}

function authColumns(input: SourceInput, existing: DataSource | null) {
  if (input.authType === "none")
    return { auth_type: "none" as const, auth_name: null, auth_secret: null };
  const secret = input.authSecret?.trim() ? input.authSecret : (existing?.auth_secret ?? null);
  return {
    auth_type: input.authType,
    auth_name:
      input.authType === "basic" || input.authType === "header" ? input.authName!.trim() : null,
    auth_secret: secret,
  };
}

/** What the audit log keeps of a source: never its secret. */
function auditDetails(s: DataSource) {
  return {
    name: s.name,
    url: s.url,
    format: s.format,
    schedule: s.schedule,
    channel: s.channel ?? "per record",
    auth: s.auth_type,
    enabled: s.enabled,
  };
}

const adminId = (by: AuditContext) =>
  by.actor.type === "admin_user" ? (by.actor.id ?? null) : null;

async function nameTaken(db: Db, name: string, exceptId: string | null): Promise<boolean> {
  let q = withSourceTables(db)
    .selectFrom("data_sources")
    .select("id")
    .where(sql<string>`lower(name)`, "=", name.toLowerCase());
  if (exceptId) q = q.where("id", "<>", exceptId);
  return (await q.executeTakeFirst()) !== undefined;
}

/** Adds a source (not run until a mapping is chosen from its preview). */
export async function createSource(
  db: Db,
  input: SourceInput,
  env: SourceEnv,
  by: AuditContext,
): Promise<SourceResult> {
  const checked = await checkInput(input, env, null);
  if (!checked.ok) return checked;
  const name = input.name.trim();
  if (await nameTaken(db, name, null)) {
    return { ok: false, field: "name", message: "Another source has this name." };
  }
  return inTransaction(db, async (trx) => {
    const source = await withSourceTables(trx)
      .insertInto("data_sources")
      .values({
        name,
        url: checked.url,
        format: input.format,
        schedule: input.schedule,
        channel: input.channel,
        ...authColumns(input, null),
        created_by: adminId(by),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, {
      ...by,
      action: "data_source.create",
      target: { type: "data_source", id: source.id },
      details: auditDetails(source),
    });
    return { ok: true as const, source };
  });
}

/**
 * Changes a source's settings. A new URL or format forgets the mapping (the records may not be
 * where they were): a new preview chooses it again.
 */
export async function updateSource(
  db: Db,
  id: string,
  input: SourceInput,
  env: SourceEnv,
  by: AuditContext,
): Promise<SourceResult | null> {
  const existing = await getSource(db, id);
  if (!existing) return null;
  const checked = await checkInput(input, env, existing);
  if (!checked.ok) return checked;
  const name = input.name.trim();
  if (await nameTaken(db, name, id)) {
    return { ok: false, field: "name", message: "Another source has this name." };
  }
  const moved = checked.url !== existing.url || input.format !== existing.format;
  return inTransaction(db, async (trx) => {
    const source = await withSourceTables(trx)
      .updateTable("data_sources")
      .set({
        name,
        url: checked.url,
        format: input.format,
        schedule: input.schedule,
        channel: input.channel,
        enabled: input.enabled ?? existing.enabled,
        ...authColumns(input, existing),
        ...(moved ? { mapping: null } : {}),
        ...(input.schedule !== existing.schedule ? { next_run_at: sql<Date>`now()` } : {}),
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, {
      ...by,
      action: "data_source.update",
      target: { type: "data_source", id },
      details: {
        ...auditDetails(source),
        secret_changed: Boolean(input.authSecret?.trim()),
        mapping_reset: moved && existing.mapping !== null,
      },
    });
    return { ok: true as const, source };
  });
}

/** Saves the field mapping chosen from a preview; the source then runs on its schedule. */
export async function saveSourceMapping(
  db: Db,
  id: string,
  mapping: SourceMapping,
  by: AuditContext,
): Promise<SourceResult | null> {
  const existing = await getSource(db, id);
  if (!existing) return null;
  if (!mapping.address.trim()) {
    return { ok: false, field: "mapping", message: "Choose the field that holds the addresses." };
  }
  if (existing.channel === null && !mapping.channel) {
    return {
      ok: false,
      field: "mapping",
      message: "Choose the field that names each record's channel, or give the source one channel.",
    };
  }
  const clean: SourceMapping = {
    records: mapping.records,
    ...(existing.format === "csv"
      ? { delimiter: mapping.delimiter ?? ",", header: Boolean(mapping.header) }
      : {}),
    address: mapping.address,
    channel: existing.channel === null ? mapping.channel : null,
    reason: mapping.reason || null,
  };
  return inTransaction(db, async (trx) => {
    const source = await withSourceTables(trx)
      .updateTable("data_sources")
      .set({ mapping: JSON.stringify(clean), updated_at: sql<Date>`now()` })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, {
      ...by,
      action: "data_source.mapping",
      target: { type: "data_source", id },
      details: { name: source.name, mapping: clean },
    });
    return { ok: true as const, source };
  });
}

/** "Run now": the scheduler (any server) runs the source within seconds. */
export async function requestSourceRun(db: Db, id: string, by: AuditContext): Promise<boolean> {
  if (!isUuid(id)) return false;
  return inTransaction(db, async (trx) => {
    const row = await withSourceTables(trx)
      .updateTable("data_sources")
      .set({ run_requested_at: sql<Date>`now()`, run_requested_by: adminId(by) })
      .where("id", "=", id)
      .where("mapping", "is not", null)
      .returning(["id", "name"])
      .executeTakeFirst();
    if (!row) return false;
    await audit(trx, {
      ...by,
      action: "data_source.run",
      target: { type: "data_source", id },
      details: { name: row.name },
    });
    return true;
  });
}

export async function deleteSource(db: Db, id: string, by: AuditContext): Promise<boolean> {
  if (!isUuid(id)) return false;
  return inTransaction(db, async (trx) => {
    const row = await withSourceTables(trx)
      .deleteFrom("data_sources")
      .where("id", "=", id)
      .returning(["id", "name", "url"])
      .executeTakeFirst();
    if (!row) return false;
    await audit(trx, {
      ...by,
      action: "data_source.delete",
      target: { type: "data_source", id },
      details: { name: row.name, url: row.url },
    });
    return true;
  });
}

export async function getSource(db: Db, id: string): Promise<DataSource | undefined> {
  if (!isUuid(id)) return undefined;
  return withSourceTables(db)
    .selectFrom("data_sources")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
}

/** A source as the admin area shows it: the secret masked, never in full. */
export type SourceView = Omit<DataSource, "auth_secret" | "locked_by" | "locked_until"> & {
  secretHint: string | null;
  lastRun: SourceRunView | null;
};

export type SourceRunView = DataSourceRun & {
  import_status: string | null;
  imported: number | null;
  already_suppressed: number | null;
  duplicates: number | null;
  invalid: number | null;
  import_error: string | null;
};

function view(s: DataSource, lastRun: SourceRunView | null): SourceView {
  const { auth_secret, locked_by: _l, locked_until: _u, ...rest } = s;
  return { ...rest, secretHint: maskSecret(auth_secret), lastRun };
}

function runsQuery(db: Db) {
  return withSourceTables(db)
    .selectFrom("data_source_runs as r")
    .leftJoin("import_jobs as j", "j.id", "r.import_job_id")
    .selectAll("r")
    .select([
      "j.status as import_status",
      "j.imported",
      "j.already_suppressed",
      "j.duplicates",
      "j.invalid",
      "j.error as import_error",
    ]);
}

export async function listSources(db: Db): Promise<SourceView[]> {
  const sources = await withSourceTables(db)
    .selectFrom("data_sources")
    .selectAll()
    .orderBy(sql`lower(name)`)
    .execute();
  if (sources.length === 0) return [];
  const last = await runsQuery(db)
    .where(
      "r.id",
      "in",
      withSourceTables(db)
        .selectFrom("data_source_runs")
        .select(sql<string>`(array_agg(id order by started_at desc))[1]`.as("id"))
        .groupBy("source_id"),
    )
    .execute();
  const byId = new Map(last.map((r) => [r.source_id, r as SourceRunView]));
  return sources.map((s) => view(s, byId.get(s.id) ?? null));
}

export async function getSourceView(db: Db, id: string): Promise<SourceView | null> {
  const s = await getSource(db, id);
  if (!s) return null;
  const [lastRun] = await listSourceRuns(db, id, 1);
  return view(s, lastRun ?? null);
}

export async function listSourceRuns(
  db: Db,
  sourceId: string,
  limit = 30,
): Promise<SourceRunView[]> {
  if (!isUuid(sourceId)) return [];
  const rows = await runsQuery(db)
    .where("r.source_id", "=", sourceId)
    .orderBy("r.started_at", "desc")
    .limit(limit)
    .execute();
  return rows as SourceRunView[];
}

/** Fetches the source now (through the guard and the limits) and reads its structure. */
export async function previewDataSource(
  db: Db,
  id: string,
  env: SourceEnv,
): Promise<{ ok: true; preview: SourcePreview } | { ok: false; message: string } | null> {
  const source = await getSource(db, id);
  if (!source) return null;
  const dir = importsDir(env);
  await fs.promises.mkdir(dir, { recursive: true });
  const file = path.join(dir, `preview-${crypto.randomUUID()}.tmp`);
  try {
    await fetchToFile(source.url, file, {
      headers: authHeaders(source),
      limits: fetchLimits(env),
      policy: sourceFetchPolicy(env),
    });
    return { ok: true, preview: await previewSource(file, source.format) };
  } catch (e) {
    if (e instanceof SourceFetchError || e instanceof SsrfError || e instanceof ImportFileError) {
      return { ok: false, message: e.message };
    }
    throw e;
  } finally {
    await fs.promises.rm(file, { force: true });
  }
}
