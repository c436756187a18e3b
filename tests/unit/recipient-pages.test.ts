import { describe, expect, it } from "vitest";
import { isOneClick, parsePreferencesForm, parseUnsubscribeForm } from "~/recipient/forms.server";
import { frequencyView, planPreferences, type ChannelView } from "~/recipient/recipient.server";
import { accentCss, accentPalette, contrastRatio } from "~/ui/accent";

const form = (entries: [string, string][]) => {
  const f = new FormData();
  for (const [k, v] of entries) f.append(k, v);
  return f;
};

describe("the operator's accent colour stays readable", () => {
  it("for any colour, button text on the accent and links on white reach WCAG AA (4.5:1)", () => {
    for (const hex of [
      "#2563eb",
      "#ffff00",
      "#facc15",
      "#777777",
      "#000000",
      "#ffffff",
      "#10b981",
      "#ff0000",
    ]) {
      const p = accentPalette(hex);
      expect(contrastRatio(p.accent, p.onAccent), hex).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(p.ink, [255, 255, 255]), hex).toBeGreaterThanOrEqual(4.5);
    }
  });

  it("produces only numbers in the CSS (nothing from the setting reaches the style element as text)", () => {
    expect(accentCss("#2563eb")).toBe(
      ":root{--heed-accent:37 99 235;--heed-on-accent:255 255 255;--heed-accent-ink:37 99 235}",
    );
    expect(accentCss("</style><script>")).toMatch(
      /^:root\{--heed-accent:[\d ]+;--heed-on-accent:[\d ]+;--heed-accent-ink:[\d ]+\}$/,
    );
  });
});

describe("recipient forms", () => {
  it("RFC 8058: only the exact List-Unsubscribe=One-Click body is a one-click request", () => {
    expect(isOneClick(form([["List-Unsubscribe", "One-Click"]]))).toBe(true);
    expect(isOneClick(form([["List-Unsubscribe", "one-click"]]))).toBe(false);
    expect(isOneClick(form([["intent", "unsubscribe"]]))).toBe(false);
  });

  it("the preference form reads choices, shown topic toggles, reason and intent; malformed ones are refused", () => {
    expect(
      parsePreferencesForm(
        form([
          ["choice.email", "receive"],
          ["topicsShown.email", "1"],
          ["topics.email", "news"],
          ["choice.sms", "pause30"],
          ["reason", "too_frequent"],
          ["reasonText", "  too many  "],
        ]),
      ),
    ).toEqual({
      intent: "save",
      channels: {
        email: { choice: "receive", topics: ["news"] },
        sms: { choice: "pause30", topics: null },
      },
      reasonCode: "too_frequent",
      reasonText: "too many",
    });
    // Toggles shown but all unchecked: an empty list (turn everything off), not "not shown".
    expect(parsePreferencesForm(form([["topicsShown.whatsapp", "1"]]))!.channels).toEqual({
      whatsapp: { choice: "keep", topics: [] },
    });
    expect(parsePreferencesForm(form([["intent", "unsubscribe_all"]]))).toMatchObject({
      intent: "unsubscribe_all",
      reasonCode: null,
    });
    expect(parsePreferencesForm(form([["choice.email", "explode"]]))).toBeNull();
    expect(parsePreferencesForm(form([["intent", "delete_everything"]]))).toBeNull();
    expect(parsePreferencesForm(form([["reason", "DROP TABLE"]]))).toBeNull();
    expect(
      parsePreferencesForm(
        form([
          ["topicsShown.email", "1"],
          ["topics.email", "../x"],
        ]),
      ),
    ).toBeNull();
  });

  it("the unsubscribe form defaults to unsubscribe and refuses unknown intents", () => {
    expect(parseUnsubscribeForm(form([]))).toEqual({
      intent: "unsubscribe",
      reasonCode: null,
      reasonText: null,
    });
    expect(parseUnsubscribeForm(form([["intent", "resubscribe"]]))!.intent).toBe("resubscribe");
    expect(parseUnsubscribeForm(form([["intent", "nuke"]]))).toBeNull();
  });
});

describe("planning a preference save", () => {
  const channel = (over: Partial<ChannelView>): ChannelView => ({
    channel: "email",
    address: "a@example.com",
    display: "a@example.com",
    state: "subscribed",
    pausedUntil: null,
    confirmationPending: false,
    topics: [
      { key: "news", name: "News", description: "", subscribed: true },
      { key: "offers", name: "Offers", description: "", subscribed: false },
    ],
    frequency: frequencyView(
      [
        { key: "every", label: "Every message", windowDays: null },
        { key: "weekly", label: "At most weekly", windowDays: 7 },
      ],
      null,
    ),
    ...over,
  });
  const actor = { contactId: "c1", campaign: "spring" };
  const reason = { code: "other", text: "why" };

  it("a frequency choice is recorded when it changes; an option not offered is stale", () => {
    const input = (frequency: string) => ({
      intent: "save" as const,
      channels: { email: { choice: "receive" as const, topics: null, frequency } },
      reasonCode: null,
      reasonText: null,
    });
    const r = planPreferences([channel({})], input("weekly"), actor, reason);
    expect(r.ok && r.plan.changes).toEqual([
      expect.objectContaining({ action: "frequency", frequency: "weekly", channel: "email" }),
    ]);
    const same = planPreferences(
      [channel({ frequency: frequencyView(channel({}).frequency.options, "weekly") })],
      input("weekly"),
      actor,
      reason,
    );
    expect(same.ok && same.plan.changes).toEqual([]);
    // Never chosen: "every message" is what the page shows checked; saving it records nothing.
    const untouched = planPreferences([channel({})], input("every"), actor, reason);
    expect(untouched.ok && untouched.plan.changes).toEqual([]);
    expect(planPreferences([channel({})], input("daily"), actor, reason)).toEqual({
      ok: false,
      error: "stale",
    });
    expect(parsePreferencesForm(form([["frequency.email", "weekly"]]))!.channels.email).toEqual({
      choice: "keep",
      topics: null,
      frequency: "weekly",
    });
  });

  it("topic toggles become opt-ins/opt-outs (the reason only on turning off); unchanged ones nothing", () => {
    const r = planPreferences(
      [channel({})],
      {
        intent: "save",
        channels: { email: { choice: "receive", topics: ["offers"] } },
        reasonCode: null,
        reasonText: null,
      },
      actor,
      reason,
    );
    expect(
      r.ok && r.plan.changes.map((c) => [c.action, c.topic, c.reasonCode ?? null, c.source]),
    ).toEqual([
      ["topic_opt_out", "news", "other", "preference_page"],
      ["topic_opt_in", "offers", null, "preference_page"],
    ]);
  });

  it("an unsubscribed channel's topics are not touched, and re-enabling it is a double opt-in, not a change", () => {
    const r = planPreferences(
      [channel({ state: "unsubscribed" })],
      {
        intent: "save",
        channels: { email: { choice: "resubscribe", topics: [] } },
        reasonCode: null,
        reasonText: null,
      },
      actor,
      reason,
    );
    expect(r.ok && r.plan.changes).toEqual([]);
    expect(r.ok && r.plan.resubscribe.map((c) => c.channel)).toEqual(["email"]);
  });

  it("pause ends 30 or 90 days from now; a choice the state does not offer is stale", () => {
    const now = Date.UTC(2027, 0, 1);
    const r = planPreferences(
      [channel({})],
      {
        intent: "save",
        channels: { email: { choice: "pause90", topics: null } },
        reasonCode: null,
        reasonText: null,
      },
      actor,
      reason,
      now,
    );
    expect(r.ok && r.plan.changes[0]!.pausedUntil).toEqual(new Date(now + 90 * 86_400_000));
    expect(
      planPreferences(
        [channel({})],
        {
          intent: "save",
          channels: { email: { choice: "resubscribe", topics: null } },
          reasonCode: null,
          reasonText: null,
        },
        actor,
        reason,
      ),
    ).toEqual({ ok: false, error: "stale" });
  });
});

describe("/manage tells an email address from a phone number", () => {
  it("an @ makes an email address; digits with + ( ) . - / and spaces a phone number; else neither", async () => {
    const { addressKind } = await import("~/mail/preferences-link.server");
    expect(addressKind("name@example.com")).toBe("email");
    expect(addressKind(" a@b ")).toBe("email");
    for (const phone of ["+420 777 111 222", "00420777111222", "(0)777-111.222", "420/777111222"])
      expect(addressKind(phone), phone).toBe("phone");
    for (const other of ["hello", "12 34", "+4", "call me maybe", ""])
      expect(addressKind(other), other).toBeNull();
  });
});
