import { describe, expect, it } from "vitest";
import { localizeSourceMessage } from "~/admin/integration-messages.server";
import { localizeFailure, localizeMessage } from "~/admin/messages.server";
import { TOPIC_MESSAGES } from "~/admin/topic-form.server";
import { getFixedT } from "~/i18n/i18n.server";
import { NewTopicSchema } from "~/topics/topics.server";
import { parseForm } from "~/admin/forms.server";

/**
 * Admin settings pages show the domain's English validation messages in the operator's language
 * (app/admin/messages.server.ts): known messages are translated, unknown ones pass as they are.
 */
describe("localized admin messages", () => {
  const cs = getFixedT("cs", "settings");
  const en = getFixedT("en", "settings");

  it("a topic form's zod messages in Czech, and unchanged in English", () => {
    const parsed = parseForm(NewTopicSchema, {
      key: "Not A Key",
      names: { en: "" },
      descriptions: {},
      channels: [],
      defaultOptIn: true,
      position: 1_000_000,
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const czech = localizeFailure(cs, parsed, TOPIC_MESSAGES, {
      position: "topics.errors.position",
    });
    expect(czech.message).toBe("Opravte prosím označená pole.");
    expect(czech.fieldErrors).toEqual({
      key: "Použijte malá písmena, číslice, - a _ (nejvýše 64 znaků), na začátku písmeno nebo číslici.",
      names: "Anglický název je povinný.",
      channels: "Vyberte alespoň jeden kanál.",
      position: "Zadejte celé číslo od -100 000 do 100 000.",
    });
    const english = localizeFailure(en, parsed, TOPIC_MESSAGES);
    expect(english.message).toBe(parsed.message);
    expect(english.fieldErrors.key).toBe(parsed.fieldErrors.key);
    expect(english.fieldErrors.names).toBe("The English name is required.");
  });

  it("an unknown message is shown as it is; a prefix entry passes the rest as {{detail}}", () => {
    expect(localizeMessage(cs, "Something new.", TOPIC_MESSAGES)).toBe("Something new.");
    const t = getFixedT("pl", "integrations");
    expect(localizeSourceMessage(t, "The server answered 404 Not Found.")).toBe(
      "Serwer odpowiedział 404 Not Found.",
    );
    expect(localizeSourceMessage(t, "This URL cannot be used: it must be an https:// URL.")).toBe(
      "Tego adresu URL nie można użyć: musi zaczynać się od https://.",
    );
    expect(localizeSourceMessage(t, "Enter a name.")).toBe("Wpisz nazwę.");
  });
});
