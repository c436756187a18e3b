/**
 * What an inbound SMS/WhatsApp reply asks for. Pure: no database, no I/O.
 *
 * 1. Keywords act only when they are the WHOLE message, as the carriers and Twilio match them:
 *    STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, "OPT OUT" revoke;
 *    START, UNSTOP, YES opt in; HELP, INFO ask for help. Case, surrounding punctuation,
 *    whitespace, emoji and invisible characters (zero-width spaces, joiners, BOMs, variation
 *    selectors) are ignored: "Stop!", " STOP 🛑", "stop\u200b" are STOP; "Yes, see you at 5" is
 *    not YES and "End of the day works for me" is not END.
 * 2. A provider's own classification (Twilio's OptOutType, Telnyx's autoresponse_type, Plivo's
 *    MessageIntent) decides whenever it is sent, whatever the words.
 * 3. "Any reasonable means" (47 CFR 64.1200(a)(10)): a message whose words a reasonable person
 *    reads as "stop" revokes at once, in every page language ("please stop texting me",
 *    "remove me", "no más", "ARRET", "nie chcę", ...). Such phrases are matched against the
 *    whole message, with courtesy words around them allowed ("please", "thanks", "bitte").
 * 4. A message that merely CONTAINS a stop word or one of those phrases ("End of the day works
 *    for me", "can I cancel my order?") goes to an agent: `review`.
 * 5. Nothing ever opts in from a sentence: only the bare START / UNSTOP / YES (or the provider's
 *    START) does.
 *
 * Why hand-written: no maintained library classifies opt-out replies by these rules (the
 * carriers' exact-match keywords plus a per-language phrase list); the lists below are the
 * product's own decision and are tested against real-world replies in tests/unit/keywords.test.ts.
 */

export type SmsDecision = "revoke" | "opt_in" | "help" | "review" | "ignore";
/** The page languages; a match names the language it was written in (for the reply). */
export type SmsLanguage = "en" | "pl" | "pt" | "cs" | "de" | "es" | "fr";

export type Classification = {
  decision: SmsDecision;
  /**
   * How it was decided: `keyword` (a carrier keyword, the whole message), `provider` (the
   * provider's own opt-out type), `phrase` (a clear "stop" phrasing), `contains` (a stop word
   * inside a longer message), `none`.
   */
  by: "keyword" | "provider" | "phrase" | "contains" | "none";
  /** The language of the words that matched, when they tell (STOP is English, BAJA Spanish). */
  language: SmsLanguage | null;
  /** The keyword or phrase that matched, normalized (for agents and the ledger details). */
  matched: string | null;
};

/** The provider's own classification of the message, when it sends one. */
export type ProviderOptOutType = "STOP" | "START" | "HELP";

// ---------------------------------------------------------------------------------------------
// Normalization

/** Invisible characters: format controls (ZWSP, ZWJ, BOM, bidi marks, soft hyphen), variation selectors, tags. */
// eslint-disable-next-line no-misleading-character-class -- a set of single code points, on purpose
const INVISIBLE = /[\p{Cf}\u034F\u115F\u1160\u3164\uFFA0\uFE00-\uFE0F\u{E0000}-\u{E007F}]/gu;
/** Emoji and pictographs (with skin tones, keycaps) and other symbols. */
// eslint-disable-next-line no-misleading-character-class -- a set of single code points, on purpose
const EMOJI = /[\p{Extended_Pictographic}\u{1F1E6}-\u{1F1FF}\u{1F3FB}-\u{1F3FF}\u20E3]/gu;
const PUNCT_OR_SYMBOL = /[\p{P}\p{S}]/gu;

/**
 * The message as a keyword is matched: NFKC, lower case, invisible characters and emoji removed,
 * whitespace collapsed, punctuation and symbols trimmed from both ends (not from inside).
 */
export function normalizeForKeyword(text: string): string {
  return text
    .normalize("NFKC")
    .replace(INVISIBLE, "")
    .replace(EMOJI, " ")
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .trim()
    .replace(/^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$/gu, "");
}

/**
 * The message as phrases are matched: like normalizeForKeyword, then without diacritics
 * ("arrêt" = "arret", "nie chcę" = "nie chce"), apostrophes dropped ("don't" = "dont") and all
 * other punctuation as spaces.
 */
export function normalizeForPhrase(text: string): string {
  return normalizeForKeyword(text)
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .replace(/ł/g, "l")
    .replace(/ß/g, "ss")
    .replace(/['’ʼ`´]/g, "")
    .replace(PUNCT_OR_SYMBOL, " ")
    .replace(/\s+/g, " ")
    .trim();
}

// ---------------------------------------------------------------------------------------------
// 1. Carrier keywords (whole message)

const STOP_KEYWORDS = new Set([
  "stop",
  "stopall",
  "unsubscribe",
  "cancel",
  "end",
  "quit",
  "revoke",
  "optout",
  "opt out",
  "opt-out",
]);
const START_KEYWORDS = new Set(["start", "unstop", "yes"]);
const HELP_KEYWORDS = new Set(["help", "info"]);

/** Help requests in the other page languages (whole message). */
const HELP_WORDS: Record<string, SmsLanguage> = {
  pomoc: "pl",
  ajuda: "pt",
  napoveda: "cs",
  hilfe: "de",
  ayuda: "es",
  aide: "fr",
};

/**
 * The carrier keyword the whole message is, or null. This is the match a provider that answers
 * keywords itself (Twilio's default opt-out handling) also makes.
 */
export function carrierKeyword(
  text: string | null | undefined,
): "revoke" | "opt_in" | "help" | null {
  if (!text) return null;
  const k = normalizeForKeyword(text);
  if (STOP_KEYWORDS.has(k)) return "revoke";
  if (START_KEYWORDS.has(k)) return "opt_in";
  if (HELP_KEYWORDS.has(k)) return "help";
  return null;
}

// ---------------------------------------------------------------------------------------------
// 3. Clear "stop" phrasings per language (whole message, courtesy words allowed around them)

/** Courtesy and filler words that may surround a stop phrase without changing what it says. */
const FILLER = [
  // en
  "please",
  "pls",
  "plz",
  "plse",
  "kindly",
  "thanks",
  "thank you",
  "thank u",
  "thx",
  "ty",
  "ok",
  "okay",
  "hi",
  "hello",
  "hey",
  "sorry",
  "now",
  "asap",
  "immediately",
  "right now",
  "already",
  // pl
  "prosze",
  "dziekuje",
  "dzieki",
  "juz",
  "natychmiast",
  "czesc",
  "dzien dobry",
  // cs
  "prosim",
  "dekuji",
  "diky",
  "uz",
  "ihned",
  "dobry den",
  "ahoj",
  // de
  "bitte",
  "danke",
  "sofort",
  "hallo",
  "jetzt",
  // es
  "por favor",
  "gracias",
  "hola",
  "ya",
  "ahora",
  // pt
  "obrigado",
  "obrigada",
  "ola",
  "ja",
  "agora",
  // fr
  "svp",
  "s il vous plait",
  "sil vous plait",
  "stp",
  "merci",
  "bonjour",
  "maintenant",
];
const FILLER_RE = `(?:${FILLER.join("|")})`;

const MSG =
  "(?:messages?|texts?|txts?|sms|sms es|smses|msgs?|spam|promos?|promotions?|offers?|ads|adverts?|marketing|notifications?|alerts?|stuff|these|this|them|it|that)";
const DET =
  "(?:(?:these|this|the|your|any|all|all the|all of|all of your|of|of your|more|those)\\s)*";

/** Each language's clear revocations, as regular expressions over normalizeForPhrase output. */
const PHRASES: Record<SmsLanguage, string[]> = {
  en: [
    // The carrier keywords, with courtesy words around them ("stop please", "unsubscribe thanks").
    "stop|stopall|stop all|stop it|unsubscribe|cancel|end|quit|revoke|optout|opt out",
    `stop (?:texting|txting|messaging|sending|contacting|spamming|writing to|bothering|emailing|calling)(?: me| us)?(?: ${DET}${MSG})?(?: (?:to me|anymore|any more|again|please))*`,
    `stop ${DET}${MSG}(?: (?:to me|anymore|any more|please))*`,
    `(?:i )?(?:want|wanna|would like|d like|need) (?:to )?(?:unsubscribe|opt out|stop|be removed|cancel)(?: (?:from|of) ${DET}(?:list|${MSG}|service|subscription|number))?`,
    `unsubscribe (?:me|us)(?: (?:from|of) ${DET}(?:list|${MSG}|service))?`,
    `(?:remove|delete|take|drop) (?:me|us|my number)(?: (?:off|from|out of) ${DET}(?:list|lists|mailing list|${MSG}|database|system|contacts))?`,
    "opt me out",
    "take me off",
    `no more ${DET}${MSG}?(?: (?:to me|please))*`,
    "no more",
    `(?:dont|do not|never|pls dont|please dont) (?:ever )?(?:text|txt|message|msg|contact|sms|send|write to|bother)(?: me| us)?(?: (?:again|anymore|any more|messages?|texts?|ever again))*`,
    `(?:i )?(?:dont|do not) want (?:to receive |to get |to be sent )?${DET}(?:${MSG})(?: (?:anymore|any more|from you))*`,
    "leave me alone",
    "i am out",
    "im out",
  ],
  pl: [
    "stop|koniec|rezygnuje|rezygnacja|rezygnuje z (?:subskrypcji|sms|smsow|wiadomosci)|wypisz|wypisz mnie|wypisuje sie|anuluj|dosc|wystarczy",
    "nie chce(?: (?:juz|wiecej|tego|otrzymywac|dostawac|tych))*(?: (?:sms|smsow|smsa|wiadomosci|reklam|powiadomien|ofert))?",
    "wypisz mnie (?:z (?:listy|subskrypcji|sms|smsow|bazy))",
    "(?:usun|skasuj|wykresl) (?:mnie|moj numer)(?: (?:z (?:listy|bazy|subskrypcji)))?",
    "(?:nie|prosze nie) (?:wysylajcie|wysylaj|piszcie|pisz|pisac|wysylac|przysylajcie|przysylac)(?: (?:mi|do mnie|juz|wiecej|wiecej sms|sms|smsow|wiadomosci))*",
    "(?:koniec|dosc) (?:z )?(?:sms|smsami|smsow|wiadomosci|wiadomosciami|reklam)",
    "przestancie(?: (?:pisac|wysylac|do mnie pisac|mi wysylac))?(?: (?:sms|smsy|wiadomosci))?",
  ],
  cs: [
    "stop|konec|zrusit|odhlasit|odhlasit se|odhlaste me|odhlaste mne|nechci|dost",
    "nechci(?: (?:uz|dalsi|zadne|vase|tyto|vice|dostavat))*(?: (?:sms|sms ky|smsky|zpravy|zprav|reklamy|nabidky))?",
    "(?:neposilejte|neposilej|nepiste|nepis)(?: (?:mi|mne|uz|vice|zadne))*(?: (?:sms|smsky|zpravy|reklamy))?",
    "(?:vymazte|smazte|odstrante|vyradte) (?:me|mne|muj cislo|moje cislo)(?: (?:ze seznamu|z databaze|z odberu))?",
    "(?:chci|prosim) (?:se )?odhlasit(?: (?:z odberu|ze seznamu|ze zprav|od sms))?",
    "zrusit (?:odber|odebirani|zasilani)(?: (?:sms|zprav))?",
  ],
  de: [
    "stop|stopp|ende|abmelden|abbestellen|austragen|kundigen|abbrechen",
    "(?:bitte )?(?:abmelden|abbestellen|austragen|loschen)",
    "(?:ich mochte|ich will|ich mocht) (?:mich )?(?:abmelden|austragen|keine (?:sms|nachrichten|werbung|mitteilungen)(?: mehr)?|nichts mehr (?:bekommen|erhalten))",
    "keine (?:sms|nachrichten|werbung|mitteilungen|texte|angebote)(?: mehr)?",
    "(?:schreiben sie|schreibt|schreib|senden sie|sendet|schicken sie|schickt) mir (?:keine (?:sms|nachrichten)|nicht mehr|nichts mehr)(?: mehr)?",
    "(?:horen sie auf|hort auf|hor auf)(?: (?:mir|mich|zu schreiben|mir zu schreiben|mir sms zu senden|mir zu schicken|mit den sms|mit sms|mit den nachrichten|mit nachrichten))*",
    "nicht mehr (?:schreiben|kontaktieren|senden|anschreiben)",
    "(?:loschen sie|loscht|losch) (?:mich|meine nummer)(?: (?:aus der liste|aus ihrer liste|aus dem verteiler))?",
  ],
  es: [
    "baja|alto|basta|fin|cancelar|salir|desuscribir|desuscribirme|anular",
    "no mas(?: (?:mensajes|sms|textos|promociones|publicidad))?(?: (?:por favor))?",
    "(?:quiero |deseo )?(?:darme|dar|darse|me doy) de baja(?: (?:de|del) (?:la lista|lista|servicio|los mensajes|sms))?",
    "(?:quiero |deseo )?(?:cancelar|anular) (?:la |mi )?(?:suscripcion|subscripcion|servicio)",
    "no (?:me )?(?:envies|envien|mandes|manden|escribas|escriban|contacten|contactes)(?: (?:mas|nunca mas|mensajes|sms))*",
    "(?:dejen|deja|dejad) de (?:enviarme|mandarme|escribirme|enviar|mandar|escribir|molestar|molestarme)(?: (?:mensajes|sms|textos|mas))*",
    "no quiero (?:recibir |mas )*(?:mensajes|sms|textos|publicidad|promociones|nada)(?: (?:mas))?",
    "no quiero mas",
    "(?:eliminame|borrame|sacame|quitame|eliminenme|borrenme|saquenme|quitenme)(?: (?:de (?:la|esta|su|tu|vuestra) lista|de la base de datos|de aqui))?",
  ],
  pt: [
    "parar|pare|para|sair|cancelar|fim|chega|basta|descadastrar|descadastre|remover",
    "(?:quero |desejo )?(?:sair|cancelar|descadastrar|me descadastrar|parar)(?: (?:da lista|do servico|das mensagens|a inscricao|inscricao|a assinatura|assinatura))?",
    "nao (?:quero|desejo) (?:mais |receber |mais receber )*(?:mensagens|sms|promocoes|propagandas|nada)?(?: (?:mais))?",
    "nao (?:me )?(?:envie|enviem|mande|mandem|mandar|enviar)(?: (?:mais|mensagens|sms))*",
    "(?:parem|pare|para) de (?:enviar|mandar|me enviar|me mandar)(?: (?:mensagens|sms|mais))*",
    "(?:me )?(?:tire|tirem|remova|removam|retire|exclua|excluam)(?: me)?(?: (?:da lista|desta lista|da sua lista|do cadastro))?",
    "chega de (?:mensagens|sms)",
  ],
  fr: [
    "arret|arreter|stop|fin|annuler|desabonner|desinscrire|desabonnement|desinscription",
    "(?:je veux |je voudrais |je souhaite )?(?:me )?(?:desabonner|desinscrire|retirer)(?: (?:de la liste|de cette liste|des sms|des messages))?",
    "ne (?:m envoyez|menvoyez|me envoyez|m ecrivez|mecrivez|me contactez|m contactez) plus(?: (?:de (?:sms|messages)|rien|jamais))?",
    "ne plus (?:m envoyer|menvoyer|recevoir|me contacter)(?: (?:de )?(?:sms|messages))?",
    "(?:plus de|pas de) (?:sms|messages|pub|publicite|promotions)",
    "je ne (?:veux|souhaite) plus(?: (?:recevoir|de|vos|ces|les))*(?: (?:sms|messages|vos sms|vos messages|rien))?",
    "(?:retirez|supprimez|enlevez)(?: moi| mon numero)(?: (?:de (?:la|votre|cette) liste|de vos listes|de votre base))?",
    "arretez(?: (?:de m envoyer|de menvoyer|de m ecrire|de mecrire|les|vos|ces))*(?: (?:sms|messages))?",
  ],
};

const WHOLE_PHRASES: [SmsLanguage, RegExp][] = Object.entries(PHRASES).map(([lang, list]) => [
  lang as SmsLanguage,
  new RegExp(`^(?:${FILLER_RE} )*(?:${list.join("|")})(?: ${FILLER_RE})*$`),
]);

/**
 * Stop words and phrases whose presence anywhere in a longer message calls for an agent (as whole
 * words). The carrier keywords, and the clear phrases' key words in each language.
 */
const CONTAINS: [SmsLanguage, RegExp][] = (
  [
    [
      "en",
      "stop|stopall|unsubscribe|cancel|end|quit|revoke|optout|opt out|remove me|no more|dont text|do not text|not interested",
    ],
    ["pl", "wypisz|wypisac|rezygnuje|rezygnacja|nie chce|usun mnie|nie wysylajcie|nie piszcie"],
    ["cs", "nechci|odhlasit|odhlaste|neposilejte|nepiste|zrusit odber"],
    ["de", "stopp|abmelden|abbestellen|austragen|keine sms|keine nachrichten"],
    ["es", "baja|no mas|cancelar|dejen de|no quiero|desuscribir"],
    ["pt", "parar|pare de|parem|descadastrar|nao quero|sair da lista"],
    ["fr", "arret|arreter|arretez|desabonner|desinscrire|ne m envoyez plus|je ne veux plus"],
  ] as const
).map(([lang, words]) => [lang, new RegExp(`(?:^| )(?:${words})(?= |$)`)]);

// ---------------------------------------------------------------------------------------------

function fromProvider(type: ProviderOptOutType): Classification {
  const decision = type === "STOP" ? "revoke" : type === "START" ? "opt_in" : "help";
  return { decision, by: "provider", language: null, matched: type };
}

/** Reads a provider's opt-out type ("STOP", "stop", "optout", "opt_out", ...); null if none or unknown. */
export function parseProviderOptOutType(
  value: string | null | undefined,
): ProviderOptOutType | null {
  const v = (value ?? "")
    .trim()
    .toLowerCase()
    .replace(/[\s_-]/g, "");
  if (v === "stop" || v === "optout") return "STOP";
  if (v === "start" || v === "optin" || v === "unstop") return "START";
  if (v === "help" || v === "info") return "HELP";
  return null;
}

export function classifySms(
  text: string | null | undefined,
  providerType?: ProviderOptOutType | null,
): Classification {
  if (providerType) return fromProvider(providerType);
  const body = text ?? "";
  const keyword = carrierKeyword(body);
  if (keyword) {
    return { decision: keyword, by: "keyword", language: "en", matched: normalizeForKeyword(body) };
  }
  const phrase = normalizeForPhrase(body);
  if (!phrase) return { decision: "ignore", by: "none", language: null, matched: null };
  if (HELP_WORDS[phrase]) {
    return { decision: "help", by: "keyword", language: HELP_WORDS[phrase], matched: phrase };
  }
  for (const [language, re] of WHOLE_PHRASES) {
    if (re.test(phrase)) return { decision: "revoke", by: "phrase", language, matched: phrase };
  }
  for (const [language, re] of CONTAINS) {
    const m = re.exec(phrase);
    if (m) return { decision: "review", by: "contains", language, matched: m[0].trim() };
  }
  return { decision: "ignore", by: "none", language: null, matched: null };
}
