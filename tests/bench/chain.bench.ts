/**
 * What chaining the ledger costs (issue 16.5): the same work on two databases in the same run,
 * one with the chain (every migration) and one without (the same, then the chain migration's
 * `down`): an import of 100,000 new addresses through the bulk door (10 batches of 10,000), then
 * 500 one-click unsubscribes through the one door (applyConsentChange, source one_click), half on
 * addresses with a chain already, half on new ones. The two databases take turns, twice.
 * PGlite, and PostgreSQL when BENCH_DATABASE_URL (or TEST_DATABASE_URL) is set.
 */
import crypto from "node:crypto";
import { sql, type Kysely } from "kysely";
import pg from "pg";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??= "bench:bench-signing-key-0123456789abcdef0123456789";
process.env.SESSION_SECRET ??= "bench-session-secret-0123456789abcdef0123456789";
process.env.ADDRESS_HASH_KEY ??= "bench-address-hash-key-0123456789abcdef01234567";

const { openPglite, openPostgres } = await import("~/db/db.server");
const { migrateToLatest } = await import("~/db/migrate.server");
const { applyConsentChange } = await import("~/consent/consent.server");
const { bulkUnsubscribe, BULK_BATCH_SIZE } = await import("~/consent/bulk.server");
const chainMigration = await import("../../migrations/2026-11-29T1601_ledger_chain");
type Handle = Awaited<ReturnType<typeof openPglite>>;

const IMPORT = 100_000;
const CLICKS = 500;

type Side = { name: string; handle: Handle; import: number[]; click: number[] };

async function importRound(side: Side, round: number) {
  const items = Array.from({ length: IMPORT / 2 }, (_, i) => ({
    channel: "email" as const,
    address: `imp${round}-${i}@bench.example`,
  }));
  const t = performance.now();
  for (let o = 0; o < items.length; o += BULK_BATCH_SIZE) {
    await bulkUnsubscribe(side.handle.db, items.slice(o, o + BULK_BATCH_SIZE), {
      source: "import",
      note: "import unsubscribe",
    });
  }
  side.import.push(performance.now() - t);
}

async function clickRound(side: Side, round: number) {
  const t = performance.now();
  for (let i = 0; i < CLICKS / 2; i++) {
    // Every other click on an address whose chain exists (paused before), else on a new one.
    const address =
      i % 2 === 0 ? `pre${round}-${i}@bench.example` : `click${round}-${i}@bench.example`;
    await applyConsentChange(side.handle.db, {
      channel: "email",
      address,
      action: "unsubscribe",
      source: "one_click",
      campaign: "bench",
    });
  }
  side.click.push(performance.now() - t);
}

async function run(kind: string, open: () => Promise<Handle>) {
  const chained: Side = { name: "with chain", handle: await open(), import: [], click: [] };
  const plain: Side = { name: "without chain", handle: await open(), import: [], click: [] };
  await migrateToLatest(chained.handle.db);
  await migrateToLatest(plain.handle.db);
  await chainMigration.down(plain.handle.db as unknown as Kysely<unknown>);
  for (const side of [chained, plain]) {
    // Addresses with a chain already, for half the clicks.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < CLICKS / 2; i += 2) {
        await applyConsentChange(side.handle.db, {
          channel: "email",
          address: `pre${round}-${i}@bench.example`,
          action: "pause",
          pausedUntil: new Date(Date.now() + 86_400_000),
          source: "preference_page",
        });
      }
    }
  }
  for (let round = 0; round < 2; round++) {
    const order = round === 0 ? [chained, plain] : [plain, chained];
    for (const side of order) await importRound(side, round);
    for (const side of order) await clickRound(side, round);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const imp = (s: Side) => (IMPORT / (sum(s.import) / 1000)).toFixed(0);
  const clk = (s: Side) => (CLICKS / (sum(s.click) / 1000)).toFixed(0);
  const ms = (s: Side) => (sum(s.click) / CLICKS).toFixed(2);
  console.log(
    `${kind}: import of ${IMPORT} addresses: without chain ${imp(plain)} rows/s, with chain ${imp(chained)} rows/s ` +
      `(${(sum(chained.import) / sum(plain.import)).toFixed(2)}× the time)`,
  );
  console.log(
    `${kind}: ${CLICKS} one-click unsubscribes: without chain ${ms(plain)} ms each (${clk(plain)}/s), ` +
      `with chain ${ms(chained)} ms each (${clk(chained)}/s) (${(sum(chained.click) / sum(plain.click)).toFixed(2)}× the time)`,
  );
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from consent_ledger`.execute(
    chained.handle.db,
  );
  console.log(`${kind}: ledger rows at the end: ${rows[0]!.n}`);
  await chained.handle.close();
  await plain.handle.close();
}

await run("PGlite", () => openPglite("memory://", { lock: false }));

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const names: string[] = [];
  try {
    await run("PostgreSQL", async () => {
      const dbName = `heed_bench_${crypto.randomBytes(4).toString("hex")}`;
      names.push(dbName);
      await admin.query(`create database ${dbName}`);
      const u = new URL(url);
      u.pathname = `/${dbName}`;
      return openPostgres(u.toString(), 4);
    });
  } finally {
    for (const n of names) await admin.query(`drop database if exists ${n} with (force)`);
    await admin.end();
  }
} else {
  console.log("(set BENCH_DATABASE_URL to also measure PostgreSQL)");
}
