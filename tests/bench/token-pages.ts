/**
 * Benchmark of the recipient token pages' hot path (GET /p/{token}, GET /u/{token}: mail
 * security gateways open every link of every message) next to a trivial Remix page (`/`).
 * Never part of the tests.
 *
 * Against a built server you start yourself, seeded with the e2e fixtures:
 *
 *   HEED_BUILD_DIR=tests/.tmp/build-a npx remix build
 *   export SIGNING_KEYS=e2e-1:e2e-signing-key-0123456789abcdef0123456789 \
 *     SESSION_SECRET=e2e-session-secret-0123456789abcdef0123456789 \
 *     ADDRESS_HASH_KEY=e2e-address-hash-key-0123456789abcdef01234567 \
 *     FIRST_ADMIN_EMAIL=admin@e2e.test FIRST_ADMIN_PASSWORD=e2e-admin-password-1 \
 *     E2E_DIR=tests/.tmp/bench-a HEED_DATA_DIR=tests/.tmp/bench-a/data
 *   NODE_ENV=development DEMO_DATA=1 npx tsx tests/e2e/seed.ts
 *   NODE_ENV=production LOG_LEVEL=warn PORT=3360 node tests/.tmp/build-a/index.js &
 *   BENCH_URL=http://127.0.0.1:3360 BENCH_FIXTURES=tests/.tmp/bench-a/fixtures.json \
 *     npx tsx tests/bench/token-pages.ts
 *
 * Options (env): BENCH_SECONDS per target (default 5), BENCH_CONNECTIONS (default 10).
 */
import fs from "node:fs";
// @ts-expect-error autocannon ships no type declarations (and @types/autocannon is not installed)
import autocannonUntyped from "autocannon";

type Result = {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
};
const autocannon = autocannonUntyped as (opts: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
}) => Promise<Result>;

const base = process.env.BENCH_URL ?? "http://127.0.0.1:3360";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const fixturesFile = process.env.BENCH_FIXTURES ?? "tests/.tmp/bench-a/fixtures.json";

type Contact = Record<string, string>;
const all = JSON.parse(fs.readFileSync(fixturesFile, "utf8")) as {
  recipient: Record<string, Contact>;
};
// A contact nobody changes during the benchmark.
const c = all.recipient.a11yEn!;

const targets = [
  { name: "GET / (trivial Remix page)", path: "/" },
  { name: "GET /p/{token} (preference center)", path: `/p/${c.preferences}` },
  { name: "GET /u/{token} (unsubscribe, topic link)", path: `/u/${c.unsubscribeTopic}` },
];

type Row = {
  target: string;
  "req/s": number;
  "p50 ms": number;
  "p99 ms": number;
  errors: number;
  non2xx: number;
};
const rows: Row[] = [];
for (const t of targets) {
  const check = await fetch(base + t.path);
  if (check.status !== 200) throw new Error(`${t.path} answered ${check.status}, expected 200`);
  // A short warm-up (JIT, caches), not measured.
  await autocannon({ url: base + t.path, connections, duration: 1 });
  const r = await autocannon({
    url: base + t.path,
    connections,
    duration: seconds,
    headers: { "user-agent": "Mozilla/5.0 (compatible; heed-bench)", "accept-language": "en" },
  });
  rows.push({
    target: t.name,
    "req/s": Math.round(r.requests.average),
    "p50 ms": r.latency.p50,
    "p99 ms": r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  });
}
console.table(rows);
