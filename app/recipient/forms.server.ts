import { z } from "zod";
import { CHANNELS } from "~/db/schema";
import { CHOICES, type PreferenceInput } from "~/recipient/recipient.server";

/**
 * The recipient pages' form bodies, validated with zod (server-only: the schemas never reach the
 * browser bundle).
 */

const ReasonCode = z
  .string()
  .regex(/^[a-z0-9_]{0,64}$/)
  .transform((v) => v || null);
const ReasonText = z
  .string()
  .max(2000)
  .transform((v) => v.trim() || null);

const TopicKey = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);
const PreferencesSchema = z.object({
  intent: z.enum(["save", "unsubscribe_all"]),
  channels: z.partialRecord(
    z.enum(CHANNELS),
    z.object({
      choice: z.enum(CHOICES),
      topics: z.array(TopicKey).max(200).nullable(),
      frequency: TopicKey.optional(),
    }),
  ),
  reasonCode: ReasonCode,
  reasonText: ReasonText,
});

function strings(form: FormData) {
  return (name: string) => {
    const v = form.get(name);
    return typeof v === "string" ? v : null;
  };
}

/**
 * The preference page's fields: choice.<channel> (radio), topics.<channel> (checkboxes, sent only
 * when topicsShown.<channel> says the toggles were on the page), frequency.<channel> (radio),
 * reason, reasonText, intent.
 * Null when anything is malformed.
 */
export function parsePreferencesForm(form: FormData): PreferenceInput | null {
  const str = strings(form);
  const channels: Record<string, unknown> = {};
  for (const ch of CHANNELS) {
    const choice = str(`choice.${ch}`);
    const shown = str(`topicsShown.${ch}`) === "1";
    const frequency = str(`frequency.${ch}`);
    if (choice === null && !shown && frequency === null) continue;
    channels[ch] = {
      choice: choice ?? "keep",
      topics: shown ? form.getAll(`topics.${ch}`).filter((v) => typeof v === "string") : null,
      ...(frequency ? { frequency } : {}),
    };
  }
  const parsed = PreferencesSchema.safeParse({
    intent: str("intent") ?? "save",
    channels,
    reasonCode: str("reason") ?? "",
    reasonText: str("reasonText") ?? "",
  });
  return parsed.success ? parsed.data : null;
}

const UnsubscribeSchema = z.object({
  intent: z.enum(["unsubscribe", "resubscribe"]),
  reasonCode: ReasonCode,
  reasonText: ReasonText,
});
export type UnsubscribeForm = z.infer<typeof UnsubscribeSchema>;

/** The unsubscribe page's fields: intent (unsubscribe | resubscribe), reason, reasonText. */
export function parseUnsubscribeForm(form: FormData): UnsubscribeForm | null {
  const str = strings(form);
  const parsed = UnsubscribeSchema.safeParse({
    intent: str("intent") ?? "unsubscribe",
    reasonCode: str("reason") ?? "",
    reasonText: str("reasonText") ?? "",
  });
  return parsed.success ? parsed.data : null;
}

/** RFC 8058: a mailbox provider's one-click POST carries exactly `List-Unsubscribe=One-Click`. */
export function isOneClick(form: FormData): boolean {
  return form.get("List-Unsubscribe") === "One-Click";
}
