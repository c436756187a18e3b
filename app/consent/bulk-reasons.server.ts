import { sql } from "kysely";
import type { PreparedBulkUnsubscribe, BulkUnsubscribeOptions } from "~/consent/bulk.server";
import { inTransaction, type Db } from "~/db/db.server";

/**
 * A re-import adds a reason that was missing (docs/consent.md, "Imports and reasons"): an address
 * that is unsubscribed already, whose current unsubscribe carries no reason (no code and no free
 * text), gets a new `unsubscribe` ledger row with the file's reason, and its state row points at
 * it. Nothing else changes: the status stays `unsubscribed`, no webhook is sent (no consent
 * changed), and a reason that is already there is never replaced. An erased address (hash only)
 * is left alone, so that its address is never written again.
 *
 * One statement per batch, over the batch the bulk door prepared (the same normalized addresses
 * and hashes, in the same (channel, hash) order, so the row locks are taken in the order every
 * consent write uses). Run it after the bulk door's statement, in the same transaction.
 */
export async function addMissingReasons(
  db: Db,
  prepared: PreparedBulkUnsubscribe,
  options: Pick<BulkUnsubscribeOptions, "source" | "actor" | "importId" | "note">,
  /**
   * The positions (in the prepared arrays) of the addresses that were unsubscribed before the
   * bulk door's statement (its `unsubscribedBefore`): the others just got the file's reason. A
   * first import of new addresses then costs no statement here at all. Omitted: every address.
   */
  only?: readonly number[],
): Promise<number> {
  const { p } = prepared;
  const candidate = only ? new Set(only) : null;
  const keep = p.hashes.map(
    (_, i) =>
      (candidate === null || candidate.has(i)) &&
      (p.reasonCodes[i] !== null || p.reasonTexts[i] !== null),
  );
  if (!keep.some(Boolean)) return 0;
  const pick = <T>(values: T[]) => values.filter((_, i) => keep[i]);
  const details = JSON.stringify({
    ...(options.importId ? { import_id: options.importId } : {}),
    ...(options.note ? { note: options.note } : {}),
    reason_added: true,
  });
  return inTransaction(db, async (trx) => {
    const { rows } = await sql<{ added: number; updated: number }>`
      with input as (
        select * from unnest(
          ${pick(p.channels)}::text[], ${pick(p.hashes)}::text[],
          ${pick(p.reasonCodes)}::text[], ${pick(p.reasonTexts)}::text[]
        ) with ordinality as t(channel, address_hash, reason_code, reason_text, n)
      ),
      cur as (
        select i.channel, i.address_hash, i.reason_code, i.reason_text, c.address, c.last_ledger_id
        from input i
        -- One primary-key probe per address (LIMIT keeps the status test out of the probe: with
        -- it inside, the planner used the export's partial index of every suppressed address
        -- and scanned it for each row, which made a batch take seconds per thousand rows).
        join lateral (
          select cc.address, cc.last_ledger_id, cc.status from channel_consent cc
          where cc.channel = i.channel and cc.address_hash = i.address_hash
          limit 1
          for update
        ) c on true
        where c.status = 'unsubscribed' and c.address is not null
        order by i.n
      ),
      -- One primary-key probe per address for its latest ledger row (LIMIT keeps it a probe: as a
      -- plain join, stale statistics once made the planner scan the ledger's reason-less rows and
      -- compare each with every address of the batch, 68 s for a batch of 2,500).
      missing as (
        select cur.* from cur
        cross join lateral (
          select l.action, l.reason_code, l.reason_text from consent_ledger l
          where l.id = cur.last_ledger_id
          limit 1
        ) l
        where l.action = 'unsubscribe' and l.reason_code is null and l.reason_text is null
      ),
      led as (
        insert into consent_ledger (
          channel, address_hash, address, action, source, reason_code, reason_text,
          actor_type, actor_id, details)
        select channel, address_hash, address, 'unsubscribe', ${options.source},
          reason_code, reason_text, ${options.actor?.type ?? null}, ${options.actor?.id ?? null},
          ${details}::jsonb
        from missing
        returning id, channel, address_hash
      ),
      st as (
        update channel_consent cc set last_ledger_id = led.id, updated_at = now()
        from led
        where cc.channel = led.channel and cc.address_hash = led.address_hash
        returning 1
      )
      select (select count(*) from led)::int as added, (select count(*) from st)::int as updated
    `.execute(trx);
    const r = rows[0]!;
    if (r.added !== r.updated) {
      throw new Error(`addMissingReasons: ${r.added} ledger rows but ${r.updated} state rows`);
    }
    return r.added;
  });
}
