/**
 * `npm run admin:create -- --email you@example.com --role admin [--password P] [--name N]`
 * Creates an admin-area user. Without --password, a strong one is generated and printed once.
 */
import { parseArgs } from "node:util";
import { createUser, NewUserSchema, UserError } from "~/admin/users.server";
import { openAndMigrate } from "~/boot/boot.server";
import { cliOperator, runCli } from "~/cli/cli";
import { getEnv } from "~/env.server";

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      email: { type: "string" },
      role: { type: "string", default: "agent" },
      password: { type: "string" },
      name: { type: "string" },
    },
    strict: true,
  });
  const input = {
    email: values.email ?? "",
    role: values.role as "agent",
    password: values.password ?? "",
    name: values.name ?? "",
  };
  const parsed = NewUserSchema.safeParse(input);
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n"));
    process.exit(2);
  }
  const handle = await openAndMigrate(getEnv());
  try {
    const { user, generatedPassword } = await createUser(
      handle.db,
      input,
      cliOperator("admin:create"),
    );
    console.log(
      `Created ${user.role} ${user.email}${generatedPassword ? ` with password: ${generatedPassword}` : ""}`,
    );
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    console.error(e.message);
    process.exitCode = 1;
  } finally {
    await handle.close();
  }
});
