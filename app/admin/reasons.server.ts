import { sql } from "kysely";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import type { LocalizedText } from "~/db/schema";
import { LOCALES } from "~/i18n/config";
import { clearRecipientCache } from "~/recipient/cache.server";

/**
 * Unsubscribe reasons that recipients pick from (docs/recipient-pages.md): ordered, with operator labels per
 * locale (empty → the built-in translation of the code), enabled or disabled, optionally with a
 * free-text box. Reasons are never deleted: the ledger refers to their codes.
 */

export const REASON_CODE_RE = /^[a-z0-9_]{1,64}$/;

const Labels = z.record(z.string(), z.string()).transform((rec) => {
  const out: LocalizedText = {};
  for (const locale of LOCALES) {
    const v = rec[locale]?.trim();
    if (v) out[locale] = v.slice(0, 200);
  }
  return out;
});

export const ReasonFieldsSchema = z.object({
  labels: Labels,
  enabled: z.boolean(),
  freeText: z.boolean(),
});
export const NewReasonSchema = ReasonFieldsSchema.extend({
  code: z.string().trim().regex(REASON_CODE_RE, "Use lower-case letters, digits and _ (up to 64)."),
});

export class ReasonError extends Error {
  constructor(
    readonly code: "exists" | "not_found",
    message: string,
  ) {
    super(message);
    this.name = "ReasonError";
  }
}

export async function createReason(
  db: Db,
  input: z.input<typeof NewReasonSchema>,
  by: AuditContext,
): Promise<void> {
  const r = NewReasonSchema.parse(input);
  await inTransaction(db, async (trx) => {
    const last = await trx
      .selectFrom("unsubscribe_reasons")
      .select(sql<number>`coalesce(max(position), 0)::int`.as("p"))
      .executeTakeFirstOrThrow();
    const row = await trx
      .insertInto("unsubscribe_reasons")
      .values({
        code: r.code,
        labels: JSON.stringify(r.labels),
        enabled: r.enabled,
        free_text: r.freeText,
        position: last.p + 10,
      })
      .onConflict((oc) => oc.column("code").doNothing())
      .returning("code")
      .executeTakeFirst();
    if (!row) throw new ReasonError("exists", `A reason with the code "${r.code}" already exists.`);
    await audit(trx, {
      ...by,
      action: "reason.create",
      target: { type: "reason", id: r.code },
      details: { labels: r.labels, enabled: r.enabled, freeText: r.freeText },
    });
  });
  clearRecipientCache();
}

export async function updateReason(
  db: Db,
  code: string,
  input: z.input<typeof ReasonFieldsSchema>,
  by: AuditContext,
): Promise<void> {
  const r = ReasonFieldsSchema.parse(input);
  await inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom("unsubscribe_reasons")
      .selectAll()
      .where("code", "=", code)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new ReasonError("not_found", `There is no reason "${code}".`);
    await trx
      .updateTable("unsubscribe_reasons")
      .set({ labels: JSON.stringify(r.labels), enabled: r.enabled, free_text: r.freeText })
      .where("code", "=", code)
      .execute();
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (JSON.stringify(before.labels) !== JSON.stringify(r.labels)) {
      changes.labels = { from: before.labels, to: r.labels };
    }
    if (before.enabled !== r.enabled) changes.enabled = { from: before.enabled, to: r.enabled };
    if (before.free_text !== r.freeText) {
      changes.freeText = { from: before.free_text, to: r.freeText };
    }
    if (Object.keys(changes).length > 0) {
      await audit(trx, {
        ...by,
        action: "reason.update",
        target: { type: "reason", id: code },
        details: { changes },
      });
    }
  });
  clearRecipientCache();
}

/** Moves a reason one place up or down; positions are renumbered 10, 20, 30 … */
export async function moveReason(
  db: Db,
  code: string,
  direction: "up" | "down",
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const rows = await trx
      .selectFrom("unsubscribe_reasons")
      .select(["code", "position"])
      .orderBy("position")
      .orderBy("code")
      .forUpdate()
      .execute();
    const order = rows.map((r) => r.code);
    const i = order.indexOf(code);
    if (i < 0) throw new ReasonError("not_found", `There is no reason "${code}".`);
    const j = direction === "up" ? i - 1 : i + 1;
    if (j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j]!, order[i]!];
    for (const [k, c] of order.entries()) {
      const position = (k + 1) * 10;
      if (rows.find((r) => r.code === c)?.position !== position) {
        await trx
          .updateTable("unsubscribe_reasons")
          .set({ position })
          .where("code", "=", c)
          .execute();
      }
    }
    await audit(trx, {
      ...by,
      action: "reason.move",
      target: { type: "reason", id: code },
      details: { direction, order },
    });
  });
  clearRecipientCache();
}
