import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openPglite, openPostgres } from "../../app/db/db.server";
import { migrateToLatest } from "../../app/db/migrate.server";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresTemplate: string;
    postgresAdminUrl: string;
  }
}

/**
 * Builds one migrated database per run, which every test file clones: a PGlite data-dir dump
 * (loadDataDir), or a PostgreSQL template database (CREATE DATABASE ... TEMPLATE).
 */
export default async function setup(project: TestProject) {
  const kind = project.config.env?.HEED_TEST_DB ?? "pglite";
  if (kind === "pglite") {
    const dir = path.resolve("tests/.tmp");
    fs.mkdirSync(dir, { recursive: true });
    // Uncompressed: every PGlite test file loads it (0.8 s a load here, against 1.3 s gzipped).
    const file = path.join(dir, `pglite-template-${process.pid}.tar`);
    const handle = await openPglite("memory://", { lock: false });
    await migrateToLatest(handle.db);
    const dump = await handle.pglite!.dumpDataDir("none");
    fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    await handle.close();
    project.provide("pgliteTemplate", file);
    return () => fs.rmSync(file, { force: true });
  }

  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error("TEST_DATABASE_URL is not set");
  const template = `heed_tpl_${crypto.randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${template}`);
  const templateUrl = new URL(url);
  templateUrl.pathname = `/${template}`;
  const handle = await openPostgres(templateUrl.toString(), 2);
  await migrateToLatest(handle.db);
  await handle.close();
  await admin.end();
  project.provide("postgresTemplate", template);
  project.provide("postgresAdminUrl", url);
  return async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`drop database if exists ${template} with (force)`);
    await c.end();
  };
}
