/**
 * `npm run bench`: issue 14's table. Every row (tests/bench/table/rows.ts) with the baseline it is
 * compared with, measured in the same run (the bench starts its baselines itself: a bare
 * node:http server, one that does a single pg INSERT per POST, the production build's trivial
 * page `/`, `psql \copy` of the same file), on PostgreSQL and on PGlite. Prints the table and
 * writes it as JSON to bench-results/latest.json. Never part of `npm test`.
 *
 *   npm run bench                          full sizes (about 5-10 minutes on 2 cores)
 *   npm run bench -- --quick               smaller sizes, shorter HTTP runs
 *   npm run bench -- --only=check,import   some rows (ids in rows.ts)
 *   npm run bench -- --db=postgres         one database kind (postgres, pglite)
 *   npm run bench -- --out=path.json       write the JSON elsewhere
 *
 * Environment: BENCH_DATABASE_URL / TEST_DATABASE_URL (PostgreSQL admin URL; default
 * postgres://postgres@127.0.0.1:5432/postgres), BENCH_SECONDS (per HTTP measurement; 8, quick 4),
 * BENCH_CONNECTIONS (20), BENCH_PORT (first of three ports; 3331).
 *
 * `npm run bench -- <word>` (no leading dashes) runs the older standalone scripts
 * tests/bench/*.bench.ts whose name contains the word (consent, import, reports, admin-load, token).
 */
import { execSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const args = process.argv.slice(2);
const legacy = args.find((a) => !a.startsWith("--"));
if (legacy) {
  const dir = path.resolve("tests/bench");
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts") && f.includes(legacy))
    .sort();
  let failed = 0;
  for (const file of files) {
    console.log(`\n### ${file}`);
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, file)], {
      stdio: "inherit",
    });
    if (r.status !== 0) failed++;
  }
  process.exit(failed > 0 || files.length === 0 ? 1 : 0);
}

const flag = (name: string) =>
  args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))?.split("=")[1] ?? null;
const quick = args.includes("--quick");
const only = flag("only")?.split(",").filter(Boolean) ?? null;
const kinds = (flag("db") ?? "postgres,pglite").split(",") as ("postgres" | "pglite")[];
const out = flag("out") ?? "bench-results/latest.json";
const firstPort = Number(process.env.BENCH_PORT ?? 3331);

const { ROWS } = await import("./table/rows");
const { withStage, workDir } = await import("./table/stages");
const { settle } = await import("./table/lib");
type RowResult = import("./table/lib").RowResult;
type Options = import("./table/lib").Options;

const options: Options = {
  quick,
  pgUrl:
    process.env.BENCH_DATABASE_URL ??
    process.env.TEST_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres",
  seconds: Number(process.env.BENCH_SECONDS ?? (quick ? 4 : 8)),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 20),
  ports: { heed: firstPort, hello: firstPort + 1, pgInsert: firstPort + 2 },
};

const selected = ROWS.filter((r) => !only || only.includes(r.id));
if (selected.length === 0) {
  console.error(`no row matches --only (rows: ${ROWS.map((r) => r.id).join(", ")})`);
  process.exit(2);
}

function machine() {
  const cpus = os.cpus();
  let postgres = "";
  try {
    postgres = execSync(`psql "${options.pgUrl}" -Atc "show server_version"`, {
      encoding: "utf8",
    }).trim();
  } catch {
    postgres = "unknown";
  }
  return {
    cpus: cpus.length,
    cpu: cpus[0]?.model ?? "unknown",
    memory_gib: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    postgres,
    loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const info = machine();
const started = new Date();
console.log(
  `npm run bench${quick ? " --quick" : ""}: ${selected.length} rows on ${kinds.join(", ")}; ` +
    `${info.cpus} × ${info.cpu}, node ${info.node}, PostgreSQL ${info.postgres}, load ${info.loadavg_at_start.join(" ")}`,
);

const results: RowResult[] = [];
const failures: { id: string; db: string; error: string }[] = [];
const work = workDir();
try {
  for (const kind of kinds) {
    // Stages in the order of their first row, each set up once for its rows.
    const stages = [...new Set(selected.map((r) => r.stage))];
    for (const stage of stages) {
      const rows = selected.filter((r) => r.stage === stage && (!r.dbs || r.dbs.includes(kind)));
      if (rows.length === 0) continue;
      console.log(`\n## ${kind}: ${stage} (${rows.map((r) => r.id).join(", ")})`);
      try {
        await withStage(stage, { kind, options, results, work }, async (s) => {
          for (const r of rows) {
            try {
              const settled = await settle(options.pgUrl);
              const res = await r.run(s as never);
              if (res) {
                res.details = { ...res.details, settled };
                results.push(res);
                console.log(`  ${line(res)}`);
              }
            } catch (e) {
              failures.push({ id: r.id, db: kind, error: String((e as Error).stack ?? e) });
              console.error(`  ${r.id} failed: ${(e as Error).message}`);
            }
          }
        });
      } catch (e) {
        failures.push({ id: stage, db: kind, error: String((e as Error).stack ?? e) });
        console.error(`  stage ${stage} failed: ${(e as Error).message}`);
      }
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

function fmt(x: number): string {
  return x.toLocaleString("en", { maximumFractionDigits: x < 10 ? 2 : 1 });
}

function line(r: RowResult): string {
  const base = r.baseline ? ` | baseline ${fmt(r.baseline.figure)} ${r.baseline.unit}` : "";
  const ratio = r.ratio !== undefined ? ` | ratio ${r.ratio}` : "";
  const mark = r.met === undefined ? "" : r.met ? " | goal met" : " | goal NOT met";
  type Cpu = { server: number; database: number } | undefined;
  const cpu = r.details?.cpu_us_per_request as Cpu;
  const bcpu = r.details?.baseline_cpu_us_per_request as Cpu;
  const cpuLine = !cpu
    ? ""
    : `\n    CPU per request (µs): server ${cpu.server} + database ${cpu.database}` +
      (bcpu ? ` | baseline ${bcpu.server} + ${bcpu.database}` : "");
  const d = r.details as { p99_ms?: number } | undefined;
  const p99 = d?.p99_ms !== undefined ? ` | p99 ${d.p99_ms} ms` : "";
  return `${r.what}: ${fmt(r.figure)} ${r.unit}${base}${ratio}${p99} (${r.goal ?? ""})${mark}${cpuLine}`;
}

console.log("\n## Results\n");
console.table(
  results.map((r) => ({
    db: r.db,
    row: r.id,
    figure: `${fmt(r.figure)} ${r.unit}`,
    "p99 ms": (r.details?.p99_ms as number | undefined) ?? "",
    baseline: r.baseline ? `${fmt(r.baseline.figure)} ${r.baseline.unit}` : "",
    ratio: r.ratio ?? "",
    goal: r.goal ?? "",
    met: r.met === undefined ? "" : r.met ? "yes" : "NO",
  })),
);
if (failures.length > 0) console.error(`${failures.length} row(s) failed:`, failures);

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  `${JSON.stringify(
    {
      started_at: started.toISOString(),
      finished_at: new Date().toISOString(),
      quick,
      machine: { ...info, loadavg_at_end: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      options: { seconds: options.seconds, connections: options.connections },
      results,
      failures,
    },
    null,
    2,
  )}\n`,
);
// The same table as Markdown, for README.md's Performance section.
const md = [
  "| database | row | figure | p99 | baseline (same run) | ratio | goal | met |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ...results
    .map((r) =>
      [
        r.db === "postgres" ? "PostgreSQL" : "PGlite",
        r.what,
        `${fmt(r.figure)} ${r.unit}`,
        r.details?.p99_ms !== undefined ? `${String(r.details.p99_ms)} ms` : "",
        r.baseline ? `${r.baseline.what}: ${fmt(r.baseline.figure)} ${r.baseline.unit}` : "",
        r.ratio ?? "",
        r.goal ?? "",
        r.met === undefined ? "" : r.met ? "yes" : "no",
      ]
        .map((c) => String(c).replace(/\|/g, "\\|"))
        .join(" | "),
    )
    .map((l) => `| ${l} |`),
].join("\n");
fs.writeFileSync(out.replace(/\.json$/, "") + ".md", `${md}\n`);
console.log(`\nwritten to ${out} (and .md)`);
process.exit(failures.length > 0 ? 1 : 0);
