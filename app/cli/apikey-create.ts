/**
 * `npm run apikey:create -- --name "Newsletter sender" --scopes check,links`
 * Creates an API key for a sending system and prints it once (only its hash is stored).
 * Scopes: links, check, contacts, suppressions, events.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { createApiKeyAudited } from "~/admin/api-keys.server";
import { API_SCOPES } from "~/api/keys.server";
import { openAndMigrate } from "~/boot/boot.server";
import { cliOperator, runCli } from "~/cli/cli";
import { getEnv } from "~/env.server";

const Args = z.object({
  name: z.string("--name is required").trim().min(1, "--name is required").max(200),
  scopes: z
    .string("--scopes is required, e.g. --scopes check,links")
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(API_SCOPES, `--scopes must be some of: ${API_SCOPES.join(", ")}`))
        .min(1, "--scopes needs at least one scope"),
    ),
});

await runCli(async () => {
  const { values } = parseArgs({
    options: { name: { type: "string" }, scopes: { type: "string" } },
    strict: true,
  });
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => i.message).join("\n"));
    process.exit(2);
  }
  const handle = await openAndMigrate(getEnv());
  try {
    const { key } = await createApiKeyAudited(handle.db, parsed.data, cliOperator("apikey:create"));
    console.log(
      `Created API key "${parsed.data.name}" (${parsed.data.scopes.join(", ")}). ` +
        `It is shown only now; store it in your sending system:\n\n${key}\n`,
    );
  } finally {
    await handle.close();
  }
});
