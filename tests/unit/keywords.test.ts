import { describe, expect, it } from "vitest";
import {
  carrierKeyword,
  classifySms,
  parseProviderOptOutType,
  type SmsDecision,
} from "~/sms/keywords";

/**
 * Real-world replies to marketing texts, in every page language, with the decision a carrier
 * (whole-message keywords), the FCC's "any reasonable means" rule (clear phrasings revoke at
 * once) and a careful sender (anything else that merely contains a stop word goes to an agent;
 * nothing opts in from a sentence) expect.
 */
const CASES: [text: string, decision: SmsDecision, language?: string][] = [
  // Carrier keywords: the whole message, whatever the case, spacing, punctuation, emoji.
  ["STOP", "revoke", "en"],
  ["stop", "revoke"],
  ["Stop.", "revoke"],
  ["STOP!!!", "revoke"],
  ["  stop  ", "revoke"],
  ["🛑 STOP 🛑", "revoke"],
  ["stop\u200b", "revoke"], // zero-width space
  ["\ufeffSTOP", "revoke"], // BOM
  ["S\u200dTOP", "revoke"], // zero-width joiner inside
  ["Ｓｔｏｐ", "revoke"], // full-width letters
  ["STOPALL", "revoke"],
  ["Unsubscribe", "revoke"],
  ["cancel", "revoke"],
  ["END", "revoke"],
  ["Quit", "revoke"],
  ["REVOKE", "revoke"],
  ["OPTOUT", "revoke"],
  ["opt out", "revoke"],
  ["Opt-out", "revoke"],
  ["START", "opt_in", "en"],
  ["Unstop", "opt_in"],
  ["yes", "opt_in"],
  ["YES!", "opt_in"],
  ["HELP", "help", "en"],
  ["info?", "help"],
  // False friends: keywords inside sentences never act as keywords.
  ["Yes, see you at 5", "ignore"],
  ["Yes please", "ignore"],
  ["Start again please", "ignore"],
  ["End of the day works for me", "review", "en"],
  ["I want to stop by the shop later", "review"],
  ["Can I cancel my order #1234?", "review"],
  ["Don't stop, I love these deals", "review"],
  ["Where is my parcel?", "ignore"],
  ["Thanks! 👍", "ignore"],
  ["stopped by yesterday, great shop", "ignore"],
  ["helpful, thanks", "ignore"],
  ["", "ignore"],
  // English "any reasonable means".
  ["Please stop texting me", "revoke", "en"],
  ["stop texting me!!", "revoke"],
  ["Stop sending me these messages", "revoke"],
  ["Stop please", "revoke"],
  ["stop all messages", "revoke"],
  ["Remove me", "revoke"],
  ["remove me from your list please", "revoke"],
  ["Take me off this list", "revoke"],
  ["Unsubscribe me", "revoke"],
  ["No more texts", "revoke"],
  ["no more messages please", "revoke"],
  ["Don't text me again", "revoke"],
  ["do not contact me anymore", "revoke"],
  ["I don't want these texts anymore", "revoke"],
  ["I want to unsubscribe", "revoke"],
  ["opt me out", "revoke"],
  ["Leave me alone", "revoke"],
  ["Stop promotions", "revoke"], // WhatsApp's marketing opt-out button
  ["I'm not interested", "review"],
  // Spanish.
  ["BAJA", "revoke", "es"],
  ["No más", "revoke", "es"],
  ["no mas mensajes por favor", "revoke", "es"],
  ["Quiero darme de baja", "revoke", "es"],
  ["Dejen de enviarme mensajes", "revoke", "es"],
  ["No me envíen más mensajes", "revoke", "es"],
  ["Basta", "revoke", "es"],
  ["AYUDA", "help", "es"],
  ["¿Puedo cancelar mi pedido?", "review", "es"],
  ["Sí, nos vemos a las 5", "ignore"],
  // Portuguese.
  ["PARAR", "revoke", "pt"],
  ["Pare", "revoke", "pt"],
  ["Não quero mais receber mensagens", "revoke", "pt"],
  ["Parem de enviar mensagens", "revoke", "pt"],
  ["Me tire da lista", "revoke", "pt"],
  ["AJUDA", "help", "pt"],
  ["Obrigado, até amanhã", "ignore"],
  // French.
  ["ARRET", "revoke", "fr"],
  ["Arrêt", "revoke", "fr"],
  ["Ne m'envoyez plus de SMS", "revoke", "fr"],
  ["Je ne veux plus recevoir vos messages", "revoke", "fr"],
  ["Désabonner", "revoke", "fr"],
  ["Retirez-moi de la liste svp", "revoke", "fr"],
  ["AIDE", "help", "fr"],
  ["Oui, à demain", "ignore"],
  // German.
  ["STOPP", "revoke", "de"],
  ["Bitte keine SMS mehr", "revoke", "de"],
  ["Abmelden", "revoke", "de"],
  ["Ich möchte keine Nachrichten mehr", "revoke", "de"],
  ["Hören Sie auf, mir zu schreiben", "revoke", "de"],
  ["HILFE", "help", "de"],
  ["Ja, bis morgen", "ignore"],
  // Polish.
  ["nie chcę", "revoke", "pl"],
  ["Nie chcę więcej SMS", "revoke", "pl"],
  ["Wypisz mnie", "revoke", "pl"],
  ["Proszę nie wysyłać mi więcej wiadomości", "revoke", "pl"],
  ["Rezygnuję", "revoke", "pl"],
  ["POMOC", "help", "pl"],
  ["nie chcę czekać tak długo na paczkę", "review", "pl"],
  ["Tak, do jutra", "ignore"],
  // Czech.
  ["nechci", "revoke", "cs"],
  ["Nechci další SMS", "revoke", "cs"],
  ["Odhlásit", "revoke", "cs"],
  ["Neposílejte mi už zprávy", "revoke", "cs"],
  ["Chci se odhlásit z odběru", "revoke", "cs"],
  ["nechci to zboží vracet", "review", "cs"],
  ["Ano, uvidíme se v pět", "ignore"],
];

describe("classifySms: real-world replies", () => {
  it("has at least 60 cases across the page languages", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES)("%j → %s", (text, decision, language) => {
    const c = classifySms(text);
    expect(c.decision).toBe(decision);
    if (language) expect(c.language).toBe(language);
  });

  it("never opts in from a sentence, in any language", () => {
    for (const [text] of CASES) {
      if (classifySms(text).decision === "opt_in") {
        expect(carrierKeyword(text)).toBe("opt_in");
      }
    }
  });

  it("only whole-message carrier keywords are what the provider itself answers", () => {
    expect(carrierKeyword("STOP")).toBe("revoke");
    expect(carrierKeyword(" Stop! ")).toBe("revoke");
    expect(carrierKeyword("Stop please")).toBeNull();
    expect(carrierKeyword("Please stop texting me")).toBeNull();
    expect(carrierKeyword("ARRET")).toBeNull();
    expect(carrierKeyword("yes")).toBe("opt_in");
    expect(carrierKeyword("Yes, see you at 5")).toBeNull();
    expect(carrierKeyword("help")).toBe("help");
    expect(carrierKeyword(null)).toBeNull();
  });
});

describe("the provider's own opt-out type decides whenever it is sent", () => {
  it.each([
    ["STOP", "Yes, see you at 5", "revoke"],
    ["STOP", "Arrêtez tout", "revoke"],
    ["START", "stop", "opt_in"],
    ["HELP", "whatever", "help"],
  ] as const)("OptOutType %s with %j → %s", (type, text, decision) => {
    const c = classifySms(text, type);
    expect(c).toMatchObject({ decision, by: "provider" });
  });

  it("reads the providers' spellings", () => {
    expect(parseProviderOptOutType("STOP")).toBe("STOP");
    expect(parseProviderOptOutType("optout")).toBe("STOP"); // Plivo MessageIntent
    expect(parseProviderOptOutType("opt_in")).toBe("START");
    expect(parseProviderOptOutType("Help")).toBe("HELP");
    expect(parseProviderOptOutType("")).toBeNull();
    expect(parseProviderOptOutType("something")).toBeNull();
    expect(parseProviderOptOutType(null)).toBeNull();
  });
});
