/**
 * `npm run ledger:verify`: verifies the whole consent ledger chain and every checkpoint
 * (docs/consent.md#proof-of-consent). Exits 1 when anything does not verify.
 * `--checkpoint` first seals the rows written since the last checkpoint.
 */
import { parseArgs } from "node:util";
import { openDatabase } from "~/db/db.server";
import { createLedgerCheckpoint, verifyLedgerChain } from "~/consent/chain.server";
import { runCli } from "~/cli/cli";
import { getEnv } from "~/env.server";

const { values } = parseArgs({
  options: {
    checkpoint: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
  strict: true,
});
await runCli(async () => {
  const env = getEnv();
  const handle = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir });
  let ok = false;
  try {
    if (values.checkpoint) {
      const cp = await createLedgerCheckpoint(handle.db);
      console.log(
        cp
          ? `checkpoint ${cp.id}: ${cp.rows} rows, digest ${cp.digest}`
          : "checkpoint: nothing new to seal",
      );
    }
    const r = await verifyLedgerChain(handle.db);
    ok = r.ok;
    if (values.json) {
      console.log(JSON.stringify(r, null, 2));
    } else {
      console.log(
        `${r.ok ? "OK" : "FAILED"}: ${r.rows} rows in ${r.chains} chains, ${r.redacted} erased, ` +
          `${r.checkpoints} checkpoints (${r.uncheckpointed} rows since the last), ${r.durationMs} ms`,
      );
      for (const p of r.problems) {
        console.log(
          p.problem === "checkpoint"
            ? `  checkpoint ${p.id}: the rows it covers were changed, added or deleted`
            : `  row ${p.id} (${p.channel} ${p.addressHash}): ${p.problem}`,
        );
      }
      if (r.problemCount > r.problems.length)
        console.log(`  ... ${r.problemCount - r.problems.length} more`);
    }
  } finally {
    await handle.close();
  }
  if (!ok) process.exit(1);
});
