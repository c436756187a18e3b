/**
 * `npm run apikey:create -- --name "Newsletter sender" --scopes check,links`
 * Creates an API key for a sending system and prints it once (only its hash is stored).
 * Scopes: links, check, contacts, suppressions, events.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { API_SCOPES, createApiKey } from "~/api/keys.server";
import { openAndMigrate } from "~/boot/boot.server";
import { ConfigError, getEnv } from "~/env.server";

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

try {
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
    const { id, key } = await createApiKey(handle.db, parsed.data);
    await handle.db
      .insertInto("audit_log")
      .values({
        actor_type: "system",
        actor_label: "cli apikey:create",
        action: "api_key.create",
        target_type: "api_key",
        target_id: id,
        details: JSON.stringify({ name: parsed.data.name, scopes: parsed.data.scopes }),
      })
      .execute();
    console.log(
      `Created API key "${parsed.data.name}" (${parsed.data.scopes.join(", ")}). ` +
        `It is shown only now; store it in your sending system:\n\n${key}\n`,
    );
  } finally {
    await handle.close();
  }
} catch (e) {
  console.error(
    e instanceof ConfigError || (e instanceof Error && e.name === "DataDirLockedError")
      ? e.message
      : (e as Error).message,
  );
  process.exit(1);
}
