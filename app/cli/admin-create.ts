/**
 * `npm run admin:create -- --email you@example.com --role admin [--password P] [--name N]`
 * Creates an admin-area user. Without --password, a strong one is generated and printed once.
 */
import crypto from "node:crypto";
import { parseArgs } from "node:util";
import { z } from "zod";
import { hashPassword } from "~/admin/password.server";
import { openAndMigrate } from "~/boot/boot.server";
import { ConfigError, getEnv } from "~/env.server";

const Args = z.object({
  email: z.email("--email must be an email address").transform((e) => e.trim().toLowerCase()),
  role: z.enum(["admin", "agent"], "--role must be admin or agent"),
  password: z.string().min(12, "--password must be at least 12 characters").optional(),
  name: z.string().max(200).optional(),
});

try {
  const { values } = parseArgs({
    options: {
      email: { type: "string" },
      role: { type: "string", default: "agent" },
      password: { type: "string" },
      name: { type: "string" },
    },
    strict: true,
  });
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => i.message).join("\n"));
    process.exit(2);
  }
  const args = parsed.data;
  const password = args.password ?? crypto.randomBytes(15).toString("base64url");
  const handle = await openAndMigrate(getEnv());
  try {
    const row = await handle.db
      .insertInto("admin_users")
      .values({
        email: args.email,
        name: args.name ?? null,
        role: args.role,
        password_hash: await hashPassword(password),
      })
      .onConflict((oc) => oc.column("email").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!row) {
      console.error(`A user with the email ${args.email} already exists.`);
      process.exit(1);
    }
    await handle.db
      .insertInto("audit_log")
      .values({
        actor_type: "system",
        actor_label: "cli admin:create",
        action: "admin_user.create",
        target_type: "admin_user",
        target_id: row.id,
        details: JSON.stringify({ email: args.email, role: args.role }),
      })
      .execute();
    console.log(
      `Created ${args.role} ${args.email}${args.password ? "" : ` with password: ${password}`}`,
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
