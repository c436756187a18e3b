import { describe, expect, it } from "vitest";
import { consentErrorMessage, translateFailure, translateMessage } from "~/admin/messages.server";
import { localeCookie } from "~/admin/account-locale.server";
import { ConsentError } from "~/consent/consent.server";
import { getFixedT } from "~/i18n/i18n.server";

/** Server messages of the admin area in the operator's language (docs/admin-languages.md). */
describe("admin messages", () => {
  it("known form messages are translated, unknown ones stay as they are", () => {
    const t = getFixedT("cs", "admin");
    expect(translateMessage(t, "Use at least 12 characters.")).toBe("Použijte alespoň 12 znaků.");
    expect(translateMessage(t, "Something only English knows.")).toBe(
      "Something only English knows.",
    );
    expect(
      translateFailure(t, {
        ok: false,
        message: "Please correct the fields marked below.",
        fieldErrors: { note: "Write a note: why, and on whose request." },
      }),
    ).toEqual({
      ok: false,
      message: "Opravte prosím označená pole níže.",
      fieldErrors: { note: "Napište poznámku: proč a na čí žádost." },
    });
    // English is the English of the schemas, word for word.
    expect(translateMessage(getFixedT("en", "admin"), "Use at least 12 characters.")).toBe(
      "Use at least 12 characters.",
    );
  });

  it("a ConsentError: English keeps the domain's message, other languages say it by code", () => {
    const e = new ConsentError("channel_unsubscribed", "An unsubscribed channel cannot be paused");
    expect(consentErrorMessage("en", e)).toBe("An unsubscribed channel cannot be paused");
    expect(consentErrorMessage("de", e)).toBe("Ein abgemeldeter Kanal kann nicht pausiert werden.");
    const missing = new ConsentError("invalid_address", "Add the country code …", {
      reason: "missing_country_code",
    });
    expect(consentErrorMessage("pl", missing)).toMatch(/^Dodaj numer kierunkowy kraju/);
  });

  it("the language cookie is sent to admin pages only; no choice clears it", () => {
    expect(localeCookie("cs")).toMatch(/^heed_locale=cs; Path=\/admin; SameSite=Lax; HttpOnly/);
    expect(localeCookie(null)).toMatch(/^heed_locale=; Path=\/admin;.*Max-Age=0$/);
  });
});
