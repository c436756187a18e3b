import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { getEnv, type Env } from "~/env.server";
import { DEFAULT_RATE_RULES, type RateRules } from "~/reports/rates";
import { putSetting } from "~/settings/settings.server";

/**
 * Alert settings: the rate rules (app/reports/rates.ts) and where alerts go. Defaults come from
 * the environment (UNSUBSCRIBE_ALERT_THRESHOLD_PERCENT, UNSUBSCRIBE_ALERT_EMAIL) and the built-in
 * rules; an admin's saved settings (settings key `reports.alerts`) override them.
 */
export const ALERT_SETTINGS_KEY = "reports.alerts";

export const AlertSettingsSchema = z.object({
  thresholdPercent: z.number().min(0.01).max(100),
  minSent: z.number().int().min(1).max(1_000_000_000),
  outlierEnabled: z.boolean(),
  sigmas: z.number().min(1).max(10),
  baselineSize: z.number().int().min(2).max(200),
  minBaseline: z.number().int().min(2).max(200),
  minUnsubscribes: z.number().int().min(1).max(1_000_000),
  /** Where alert emails go; empty: no email (the dashboard and webhooks still show them). */
  email: z.union([z.email(), z.literal("")]),
});
export type AlertSettings = z.infer<typeof AlertSettingsSchema>;

export function defaultAlertSettings(env: Env = getEnv()): AlertSettings {
  return {
    ...DEFAULT_RATE_RULES,
    thresholdPercent: env.UNSUBSCRIBE_ALERT_THRESHOLD_PERCENT,
    email: env.UNSUBSCRIBE_ALERT_EMAIL ?? "",
  };
}

export async function getAlertSettings(db: Db, env: Env = getEnv()): Promise<AlertSettings> {
  const defaults = defaultAlertSettings(env);
  const row = await db
    .selectFrom("settings")
    .select("value")
    .where("key", "=", ALERT_SETTINGS_KEY)
    .executeTakeFirst();
  if (!row) return defaults;
  // Field by field: a value saved by an older version that no longer validates keeps its default.
  const stored = (row.value ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(AlertSettingsSchema.shape) as (keyof AlertSettings)[]) {
    const parsed = AlertSettingsSchema.shape[key].safeParse(stored[key]);
    if (parsed.success) merged[key] = parsed.data;
  }
  return AlertSettingsSchema.parse(merged);
}

export async function saveAlertSettings(db: Db, settings: AlertSettings): Promise<void> {
  const parsed = AlertSettingsSchema.parse(settings);
  if (parsed.minBaseline > parsed.baselineSize) {
    throw new Error("minBaseline cannot be larger than baselineSize");
  }
  await putSetting(db, ALERT_SETTINGS_KEY, parsed);
}

/** An admin saves the alert settings; what changed is audited in the same transaction. */
export async function updateAlertSettings(
  db: Db,
  settings: AlertSettings,
  by: AuditContext,
): Promise<void> {
  const next = AlertSettingsSchema.parse(settings);
  await inTransaction(db, async (trx) => {
    const before = await getAlertSettings(trx);
    await saveAlertSettings(trx, next);
    const changes = Object.fromEntries(
      (Object.keys(next) as (keyof AlertSettings)[])
        .filter((k) => before[k] !== next[k])
        .map((k) => [k, { from: before[k], to: next[k] }]),
    );
    if (Object.keys(changes).length > 0) {
      await audit(trx, {
        ...by,
        action: "reports.alert_settings.update",
        target: { type: "settings", id: ALERT_SETTINGS_KEY },
        details: { changes },
      });
    }
  });
}

export function rulesOf(settings: AlertSettings): RateRules {
  const { email: _email, ...rules } = settings;
  return rules;
}
