/**
 * Consent core figures: the send check (decideSendMany, 10,000 recipients against 200,000 known
 * addresses) and single changes through the one door (applyConsentChange), on PGlite and, when
 * BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set, on PostgreSQL.
 */
import crypto from "node:crypto";
import { sql } from "kysely";
import pg from "pg";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??= "bench:bench-signing-key-0123456789abcdef0123456789";
process.env.SESSION_SECRET ??= "bench-session-secret-0123456789abcdef0123456789";
process.env.ADDRESS_HASH_KEY ??= "bench-address-hash-key-0123456789abcdef01234567";

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { applyConsentChange, decideSendMany, addressKey } = await import("~/consent/consent.server");
type Handle = Awaited<ReturnType<typeof openPglite>>;

const KNOWN = 200_000;
const CHECK = 10_000;

async function seed(handle: Handle) {
  // Seed data straight into the tables (benchmark set-up, not a consent change path).
  const batch = 5_000;
  for (let start = 0; start < KNOWN; start += batch) {
    const addresses = Array.from({ length: batch }, (_, i) => `user${start + i}@bench.example`);
    const hashes = addresses.map((a) => addressKey(a));
    const statuses = addresses.map((_, i) =>
      (start + i) % 10 === 0 ? "unsubscribed" : "subscribed",
    );
    await sql`insert into channel_consent (channel, address_hash, address, status)
      select 'email', h, a, s from unnest(${hashes}::text[], ${addresses}::text[], ${statuses}::text[]) as t(h, a, s)`.execute(
      handle.db,
    );
  }
  await sql`analyze channel_consent`.execute(handle.db);
}

async function run(name: string, handle: Handle) {
  await migrateToLatest(handle.db);
  let t = performance.now();
  await seed(handle);
  console.log(
    `${name}: seeded ${KNOWN} addresses in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const recipients = Array.from({ length: CHECK }, (_, i) =>
    i % 2 === 0 ? `user${(i * 17) % KNOWN}@bench.example` : `new${i}@bench.example`,
  );
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    t = performance.now();
    const res = await decideSendMany(handle.db, {
      channel: "email",
      category: "marketing",
      addresses: recipients,
    });
    times.push(performance.now() - t);
    if (res.length !== CHECK) throw new Error("wrong result length");
  }
  times.sort((a, b) => a - b);
  console.log(
    `${name}: send check of ${CHECK} recipients: median ${times[3]!.toFixed(0)} ms, best ${times[0]!.toFixed(0)} ms`,
  );

  const n = 500;
  t = performance.now();
  for (let i = 0; i < n; i++) {
    await applyConsentChange(handle.db, {
      channel: "email",
      address: `change${i}@bench.example`,
      action: "unsubscribe",
      source: "one_click",
      campaign: "bench",
    });
  }
  const perSec = n / ((performance.now() - t) / 1000);
  console.log(
    `${name}: ${n} sequential unsubscribes through the one door: ${perSec.toFixed(0)} changes/s`,
  );
  await handle.close();
}

await run("PGlite", await openPglite("memory://", { lock: false }));

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url) {
  const dbName = `heed_bench_${crypto.randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  try {
    await run("PostgreSQL", await openPostgres(u.toString(), 4));
  } finally {
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
} else {
  console.log("(set BENCH_DATABASE_URL to also measure PostgreSQL)");
}
