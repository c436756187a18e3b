import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { audit, type AuditContext } from "~/admin/audit.server";
import { normalizeEmail, normalizePhone } from "~/consent/address.server";
import {
  addressKey,
  applyConsentChanges,
  ConsentError,
  normalizeOrThrow,
  readConsent,
  type ChangeResult,
} from "~/consent/consent.server";
import { inTransaction, type Db } from "~/db/db.server";
import { CHANNELS, type Channel } from "~/db/schema";
import { NOTE_MAX } from "~/contacts/notes";

/**
 * Manual suppression by operators (docs/admin.md). The unsubscribed list is address-level: an address
 * can be suppressed whether or not a contact holds it. Every change goes through the consent core
 * (source `admin`, the operator as actor, the note in the ledger row's details) and is audited in the same
 * transaction. Removing a suppression (admins only, enforced by the routes) needs a note too.
 */

export type SuppressionScope = Channel | "all";
export type SuppressionTarget = { channel: Channel; address: string };

/** Which channels an address lives on: an email address on email, a phone number on SMS and WhatsApp. */
export function channelsOfAddress(raw: string): { channels: Channel[]; address: string } | null {
  const trimmed = raw.trim();
  if (trimmed.includes("@")) {
    const e = normalizeEmail(trimmed);
    return e.ok ? { channels: ["email"], address: e.address } : null;
  }
  const p = normalizePhone(trimmed, defaultPhoneRegion());
  return p.ok ? { channels: ["sms", "whatsapp"], address: p.address } : null;
}

/**
 * The (channel, address) pairs that a scope means for a raw address: one channel (the address
 * must be valid for it), or every channel the address can be on.
 */
export function targetsFor(raw: string, scope: SuppressionScope): SuppressionTarget[] {
  if (scope === "all") {
    const found = channelsOfAddress(raw);
    if (!found) {
      if (!raw.includes("@")) throwIfMissingCountryCode(raw);
      throw new ConsentError(
        "invalid_address",
        "This is neither an email address nor a phone number.",
      );
    }
    return found.channels.map((channel) => ({ channel, address: found.address }));
  }
  if (!CHANNELS.includes(scope)) throw new ConsentError("invalid_address", "Unknown channel.");
  if (scope !== "email") throwIfMissingCountryCode(raw);
  return [{ channel: scope, address: normalizeOrThrow(scope, raw) }];
}

/** A phone number without its country code, and no default country to read it with. */
export const MISSING_COUNTRY_CODE_MESSAGE =
  "Add the country code (for example +420 777 111 222), or set the default country in Admin → Phone numbers.";

function throwIfMissingCountryCode(raw: string) {
  const p = normalizePhone(raw, defaultPhoneRegion());
  if (!p.ok && p.reason === "missing_country_code") {
    throw new ConsentError("invalid_address", MISSING_COUNTRY_CODE_MESSAGE, {
      reason: "missing_country_code",
    });
  }
}

/** "j***@example.com", "+4860*****67": enough to recognise an address in the audit log. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at > 0) return `${address.slice(0, 1)}***${address.slice(at)}`;
  if (address.length <= 6) return "***";
  return `${address.slice(0, 5)}${"*".repeat(Math.max(3, address.length - 7))}${address.slice(-2)}`;
}

type Input = {
  targets: SuppressionTarget[];
  note: string;
  contactId?: string | null;
  by: AuditContext;
};

function requireNote(note: string, message: string): string {
  const trimmed = note.trim();
  if (!trimmed) throw new ConsentError("note_required", message);
  return trimmed.slice(0, NOTE_MAX);
}

async function change(db: Db, input: Input, kind: "add" | "remove"): Promise<ChangeResult[]> {
  const note = requireNote(
    input.note,
    kind === "add" ? "A suppression needs a note." : "Removing a suppression needs a note.",
  );
  if (input.targets.length === 0) return [];
  const actorId = input.by.actor.type === "admin_user" ? input.by.actor.id : null;
  return inTransaction(db, async (trx) => {
    const results = await applyConsentChanges(
      trx,
      input.targets.map((t) => ({
        channel: t.channel,
        address: t.address,
        action: kind === "add" ? ("unsubscribe" as const) : ("subscribe" as const),
        source: "admin" as const,
        contactId: input.contactId ?? null,
        // The note is the operator's, kept in details (never in reason_text: that is the
        // recipient's own words, which reports quote).
        actor: { type: "admin_user" as const, id: actorId ?? null },
        ip: input.by.ip ?? null,
        userAgent: input.by.userAgent ?? null,
        details: { note },
      })),
    );
    const first = results[0]!;
    await audit(trx, {
      ...input.by,
      action: kind === "add" ? "suppression.add" : "suppression.remove",
      target: input.contactId
        ? { type: "contact", id: input.contactId }
        : { type: "address", id: addressKey(first.address) },
      details: {
        note,
        targets: results.map((r) => ({
          channel: r.channel,
          address: maskAddress(r.address),
          changed: r.changed,
        })),
        ledgerIds: results.flatMap((r) => (r.ledgerId ? [r.ledgerId] : [])),
      },
    });
    return results;
  });
}

/** Suppresses addresses (unsubscribe, source admin). Idempotent: already suppressed ones stay. */
export function suppressAddresses(db: Db, input: Input): Promise<ChangeResult[]> {
  return change(db, input, "add");
}

/**
 * Removes suppressions (subscribe, source admin, with a mandatory note). Callers must have
 * checked that the operator is an admin.
 */
export function unsuppressAddresses(db: Db, input: Input): Promise<ChangeResult[]> {
  return change(db, input, "remove");
}

export type SuppressionIntent = "suppress" | "unsuppress";
/** What an operator's suppress / unsuppress did, for the notice the admin page shows. */
export type SuppressionOutcome = "suppressed" | "already" | "unsuppressed" | "unchanged";

/**
 * The admin area's suppress and "remove suppression" forms (a contact's page and the address
 * lookup). Removing acts only on the targets that are suppressed now, so that it never resumes a
 * pause or confirms a pending sign-up. Callers must have checked that a remover is an admin.
 */
export async function changeSuppression(
  db: Db,
  input: Input & { intent: SuppressionIntent },
): Promise<SuppressionOutcome> {
  if (input.intent === "suppress") {
    const results = await suppressAddresses(db, input);
    return results.some((r) => r.changed) ? "suppressed" : "already";
  }
  const states = await readConsent(db, input.targets);
  const targets = input.targets.filter((_, i) => states[i]?.status === "unsubscribed");
  if (targets.length === 0) return "unchanged";
  const results = await unsuppressAddresses(db, { ...input, targets });
  return results.some((r) => r.changed) ? "unsuppressed" : "unchanged";
}
