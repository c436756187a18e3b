import type { AuditContext } from "~/admin/audit.server";
import { ConfigError } from "~/env.server";

/**
 * What the `npm run` scripts share: a problem the person can fix (configuration, a data directory
 * another process holds) prints its message; anything else its stack. Either exits with 1.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const expected =
      e instanceof ConfigError || (e instanceof Error && e.name === "DataDirLockedError");
    console.error(expected ? (e as Error).message : e);
    process.exit(1);
  }
}

/** Who did it, for the audit log: the command line (there is no signed-in operator). */
export function cliOperator(command: string): AuditContext {
  return { actor: { type: "system", label: `cli ${command}` } };
}
