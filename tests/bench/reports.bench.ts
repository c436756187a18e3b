/**
 * Reports dashboard on 1,000,000 ledger rows: the time of getDashboard() (every aggregate, the
 * campaigns of the range with their rates and baselines, the latest free-text reasons) for the
 * default range (the last 30 days) and for a whole year, on PGlite and, when BENCH_DATABASE_URL
 * (or TEST_DATABASE_URL) is set, on PostgreSQL: before the first rollup, then with the rollups
 * up to date and 200 rows written since (read live). Also the rollups and the alert evaluation.
 *
 * `npm run bench -- reports`
 */
import crypto from "node:crypto";
import { sql } from "kysely";
import pg from "pg";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??= "bench:bench-signing-key-0123456789abcdef0123456789";
process.env.SESSION_SECRET ??= "bench-session-secret-0123456789abcdef0123456789";
process.env.ADDRESS_HASH_KEY ??= "bench-address-hash-key-0123456789abcdef01234567";
process.env.LOG_LEVEL ??= "silent";

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { getDashboard } = await import("~/reports/queries.server");
const { parseReportFilter } = await import("~/reports/filters");
const { DEFAULT_RATE_RULES } = await import("~/reports/rates");
const { evaluateAlerts } = await import("~/reports/alerts.server");
const { runRollup } = await import("~/reports/rollup.server");
type Handle = Awaited<ReturnType<typeof openPglite>>;

const ROWS = Number(process.env.BENCH_LEDGER_ROWS ?? 1_000_000);
const CAMPAIGNS = 1_000;
const DAYS = 365;
const RUNS = 5;

async function seed(handle: Handle) {
  // Benchmark set-up writes the tables directly (not a consent change path).
  const db = handle.db;
  await sql`insert into topics (key, names) values
    ('newsletter', '{"en":"Newsletter"}'), ('promotions', '{"en":"Promotions"}'), ('product', '{"en":"Product news"}')`.execute(
    db,
  );
  // 1,000 campaigns over the year: 70 % email, 20 % SMS, 10 % WhatsApp; 2,000–50,000 sent.
  await sql`insert into campaigns (key, name, channel, topic, sent_count, created_at)
    select 'bench-' || i, 'Bench campaign ' || i,
      (array['email','email','email','email','email','email','email','sms','sms','whatsapp'])[i % 10 + 1],
      (array['newsletter','promotions','product', null])[i % 4 + 1],
      2000 + (i * 7919) % 48000,
      now() - make_interval(secs => (${sql.lit(CAMPAIGNS)} - i) * ${sql.lit((DAYS * 86400) / CAMPAIGNS)})
    from generate_series(0, ${sql.lit(CAMPAIGNS - 1)}) as i`.execute(db);
  // The ledger: spread evenly over the year; 75 % leaving (55 % unsubscribes, 20 % topic opt-outs),
  // the rest subscribes, pauses and topic opt-ins; 70 % from a campaign of about that time; 3 %
  // with free text. Inserted in chunks so neither database holds one huge statement.
  const chunk = 100_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const end = Math.min(start + chunk, ROWS) - 1;
    await sql`insert into consent_ledger (occurred_at, channel, address_hash, action, source, topic, campaign, reason_code, reason_text)
      select
        now() - make_interval(secs => (${sql.lit(ROWS)} - i) * ${sql.lit((DAYS * 86400) / ROWS)}),
        c.channel,
        md5(i::text),
        a.action,
        (array['link','one_click','one_click','preference_page','sms_keyword','admin','import','api'])[i % 8 + 1],
        case when a.action in ('topic_opt_out', 'topic_opt_in') then (array['newsletter','promotions','product'])[i % 3 + 1] end,
        case when i % 10 < 7 then c.key end,
        (array['no_longer_interested','too_frequent','not_relevant','never_signed_up','other', null])[i % 6 + 1],
        case when i % 33 = 0 then 'free text reason ' || i end
      from generate_series(${sql.lit(start)}, ${sql.lit(end)}) as i
      cross join lateral (
        select (array['unsubscribe','unsubscribe','unsubscribe','unsubscribe','unsubscribe','unsubscribe',
                      'unsubscribe','unsubscribe','unsubscribe','unsubscribe','unsubscribe',
                      'topic_opt_out','topic_opt_out','topic_opt_out','topic_opt_out',
                      'subscribe','subscribe','subscribe','pause','topic_opt_in'])[i % 20 + 1] as action
      ) a
      cross join lateral (
        select 'bench-' || least(${sql.lit(CAMPAIGNS - 1)}, (i::bigint * ${sql.lit(CAMPAIGNS)} / ${sql.lit(ROWS)})) as key,
          (array['email','email','email','email','email','email','email','sms','sms','whatsapp'])[
            least(${sql.lit(CAMPAIGNS - 1)}, (i::bigint * ${sql.lit(CAMPAIGNS)} / ${sql.lit(ROWS)})) % 10 + 1] as channel
      ) c`.execute(db);
  }
  await sql`vacuum analyze consent_ledger`.execute(db);
  await sql`vacuum analyze campaigns`.execute(db);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up: plans, caches
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times;
}

async function run(name: string, handle: Handle) {
  await migrateToLatest(handle.db);
  let t = performance.now();
  await seed(handle);
  const count = await sql<{ n: number }>`select count(*)::int as n from consent_ledger`.execute(
    handle.db,
  );
  console.log(
    `${name}: seeded ${count.rows[0]!.n} ledger rows, ${CAMPAIGNS} campaigns in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const now = new Date();
  // Before the first rollup (a fresh server): every figure read from the ledger.
  const cold = parseReportFilter(new URLSearchParams(), now).filter;
  const coldTimes = await time(() => getDashboard(handle.db, cold, DEFAULT_RATE_RULES));
  console.log(
    `${name}: dashboard before the first rollup, last 30 days: median ${median(coldTimes).toFixed(0)} ms`,
  );
  t = performance.now();
  await runRollup(handle.db, { now });
  console.log(
    `${name}: first rollup of the whole ledger: ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  // A minute of traffic after it (200 unsubscribes), then the next rollup.
  await sql`insert into consent_ledger (channel, address_hash, action, source, campaign)
    select 'email', md5('late' || i), 'unsubscribe', 'link', 'bench-999' from generate_series(1, 200) as i`.execute(
    handle.db,
  );
  t = performance.now();
  await runRollup(handle.db, { now });
  console.log(`${name}: next rollup (200 new rows): ${(performance.now() - t).toFixed(0)} ms`);
  await sql`insert into consent_ledger (channel, address_hash, action, source, campaign)
    select 'email', md5('later' || i), 'unsubscribe', 'link', 'bench-998' from generate_series(1, 200) as i`.execute(
    handle.db,
  );

  const cases: [string, URLSearchParams][] = [
    ["last 30 days, by day", new URLSearchParams()],
    ["last 30 days, email only", new URLSearchParams({ channel: "email" })],
    [
      "last 365 days, by week",
      new URLSearchParams({
        from: new Date(now.getTime() - 364 * 86_400_000).toISOString().slice(0, 10),
        granularity: "week",
      }),
    ],
  ];
  for (const [label, params] of cases) {
    const { filter } = parseReportFilter(params, now);
    let leaving = 0;
    const times = await time(async () => {
      const d = await getDashboard(handle.db, filter, DEFAULT_RATE_RULES);
      leaving = d.totals.leaving;
    });
    console.log(
      `${name}: dashboard, ${label} (${leaving} people leaving): median ${median(times).toFixed(0)} ms, best ${Math.min(...times).toFixed(0)} ms`,
    );
  }
  t = performance.now();
  const fired = await evaluateAlerts(handle.db, { now });
  console.log(
    `${name}: alert evaluation of the last 30 days' campaigns: ${(performance.now() - t).toFixed(0)} ms (${fired.length} fired)`,
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
