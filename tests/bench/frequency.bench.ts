/**
 * Frequency capping figures (issue 16.1): POST /api/v1/check's decision for 10,000 recipients
 * against 200,000 known addresses (10% unsubscribed, 20% with a frequency choice, 50,000 recorded
 * sends), plain vs with `record: true` (each round a new campaign, so each round inserts up to
 * 10,000 send_log rows). Prints p50 of each and the ratio (the budget: recording ≤ 2× plain), on
 * PGlite and, when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set, on PostgreSQL.
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
const { decideSendMany, addressKey } = await import("~/consent/consent.server");
type Handle = Awaited<ReturnType<typeof openPglite>>;

const KNOWN = 200_000;
const CHECK = 10_000;
const ROUNDS = 9;

async function seed(handle: Handle) {
  // Seed data straight into the tables (benchmark set-up, not a consent change path).
  await sql`insert into frequency_options (channel, key, labels, window_days, position) values
    ('email', 'every', '{"en":"Every message"}', null, 10),
    ('email', 'weekly', '{"en":"At most weekly"}', 7, 20),
    ('email', 'monthly', '{"en":"At most monthly"}', 30, 30)`.execute(handle.db);
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
    const chosen = hashes.filter((_, i) => (start + i) % 5 === 1);
    await sql`insert into frequency_consent (channel, address_hash, frequency, window_days)
      select 'email', h, case when o % 2 = 0 then 'weekly' else 'monthly' end,
        case when o % 2 = 0 then 7 else 30 end
      from unnest(${chosen}::text[]) with ordinality as t(h, o)`.execute(handle.db);
    const sent = hashes.filter((_, i) => (start + i) % 4 === 3);
    await sql`insert into send_log (channel, address_hash, campaign, sent_at)
      select 'email', h, 'seed', now() - interval '40 days' from unnest(${sent}::text[]) as t(h)`.execute(
      handle.db,
    );
  }
  await sql`analyze`.execute(handle.db);
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  const plain: number[] = [];
  const recording: number[] = [];
  let capped = 0;
  // Interleaved, so that both see the same cache and the same growing send_log.
  for (let round = 0; round < ROUNDS; round++) {
    t = performance.now();
    await decideSendMany(handle.db, {
      channel: "email",
      category: "marketing",
      addresses: recipients,
      campaign: `plain-${round}`,
    });
    plain.push(performance.now() - t);
    t = performance.now();
    const res = await decideSendMany(handle.db, {
      channel: "email",
      category: "marketing",
      addresses: recipients,
      campaign: `rec-${round}`,
      record: true,
    });
    recording.push(performance.now() - t);
    capped = res.filter((d) => d.reason === "frequency_capped").length;
  }
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from send_log`.execute(
    handle.db,
  );
  console.log(
    `${name}: check of ${CHECK} recipients: plain p50 ${p50(plain).toFixed(0)} ms, ` +
      `with record p50 ${p50(recording).toFixed(0)} ms, ratio ${(p50(recording) / p50(plain)).toFixed(2)} ` +
      `(budget 2.00); last round ${capped} frequency_capped; send_log ${rows[0]!.n} rows`,
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
