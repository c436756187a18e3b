import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { retryOutboxMessage } from "~/outbox/outbox.server";

/**
 * An operator retries a dead outbox message (a fresh set of attempts, due now), audited in the
 * same transaction. False when the message does not exist or is not dead (nothing audited).
 */
export async function retryOutboxMessageAudited(
  db: Db,
  id: number,
  by: AuditContext,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    if (!(await retryOutboxMessage(trx, id))) return false;
    await audit(trx, {
      ...by,
      action: "outbox.retry",
      target: { type: "outbox_message", id: String(id) },
    });
    return true;
  });
}
