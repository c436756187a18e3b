import type { ImportMapping } from "~/imports/schema";

/**
 * Which column of an uploaded file holds the addresses (and the optional channel and reason
 * columns): by header name first, then by content. Pure, so it is unit-tested without files.
 */

const squash = (s: string) =>
  s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");

/**
 * Header names in every page language (en, cs, de, fr, es, pl, pt), compared "squashed": without
 * accents, case, spaces and punctuation ("Důvod odhlášení" → "duvododhlaseni"). A header that is
 * not in a list is also recognized by how it starts (STEMS: "Důvod odhlášení z newsletteru").
 */
const HEADER_WORDS = {
  email: [
    // en
    "email",
    "e-mail",
    "email address",
    "e-mail address",
    "mail",
    "email_address",
    // cs
    "emailová adresa",
    "e-mailová adresa",
    "mailová adresa",
    "adresa e-mailu",
    // de
    "e-mail-adresse",
    "emailadresse",
    "mailadresse",
    // fr
    "courriel",
    "adresse e-mail",
    "adresse email",
    "adresse mail",
    "adresse électronique",
    "mél",
    // es
    "correo",
    "correo electrónico",
    "dirección de correo",
    "dirección de email",
    "dirección de e-mail",
    // pl
    "adres email",
    "adres e-mail",
    "poczta",
    "poczta e-mail",
    // pt
    "endereço de email",
    "endereço de e-mail",
    "correio eletrónico",
    "correio eletrônico",
  ],
  phone: [
    // en
    "phone",
    "phone number",
    "mobile",
    "mobile number",
    "mobile phone",
    "cell",
    "cellphone",
    "cell phone",
    "msisdn",
    "tel",
    "telephone",
    "sms",
    "whatsapp",
    "number",
    // cs
    "telefon",
    "telefonní číslo",
    "tel. číslo",
    "mobil",
    "mobilní telefon",
    "číslo",
    "číslo telefonu",
    // de
    "telefonnummer",
    "handy",
    "handynummer",
    "mobilnummer",
    "mobiltelefon",
    "rufnummer",
    // fr
    "téléphone",
    "numéro de téléphone",
    "numéro",
    "portable",
    "tél",
    "numéro de portable",
    // es
    "teléfono",
    "número de teléfono",
    "móvil",
    "celular",
    "número",
    "número de móvil",
    // pl
    "numer telefonu",
    "nr telefonu",
    "komórka",
    "numer komórki",
    "numer",
    "telefon komórkowy",
    // pt
    "telefone",
    "número de telefone",
    "telemóvel",
    "número de telemóvel",
  ],
  generic: [
    "address",
    "recipient",
    "contact",
    "to",
    "subscriber",
    "adresa",
    "příjemce",
    "kontakt",
    "odběratel",
    "adresse",
    "empfänger",
    "abonnent",
    "destinataire",
    "abonné",
    "dirección",
    "destinatario",
    "contacto",
    "suscriptor",
    "adres",
    "odbiorca",
    "subskrybent",
    "endereço",
    "destinatário",
    "contato",
    "assinante",
  ],
  channel: ["channel", "type", "medium", "kanál", "typ", "kanal", "canal", "tipo", "kanał"],
  reason: [
    "reason",
    "reason code",
    "unsubscribe reason",
    "suppression reason",
    "opt-out reason",
    "reason_code",
    "důvod",
    "důvod odhlášení",
    "důvod odhlášení z odběru",
    "důvod odhlásení",
    "grund",
    "abmeldegrund",
    "grund der abmeldung",
    "abmeldungsgrund",
    "raison",
    "motif",
    "motif de désinscription",
    "raison de la désinscription",
    "motif de désabonnement",
    "raison du désabonnement",
    "motivo",
    "razón",
    "motivo de baja",
    "motivo de la baja",
    "razón de baja",
    "powód",
    "powód wypisania",
    "przyczyna",
    "powód rezygnacji",
    "powód wypisu",
    "motivo do cancelamento",
    "motivo de cancelamento",
    "razão",
    "motivo da saída",
  ],
} as const;

/** How a header may start, per kind ("Důvod odhlášení z newsletteru", "E-mail zákazníka"). */
const STEMS: Record<keyof typeof HEADER_WORDS, string[]> = {
  email: ["email", "mail", "correo", "courriel", "emailov", "adresemail", "adresemail"],
  phone: ["telefon", "phone", "mobil", "handy", "cislotelefon", "numertelefonu", "telemovel"],
  generic: [],
  channel: ["kanal", "channel", "canal"],
  reason: [
    "reason",
    "duvod",
    "grund",
    "abmeldegrund",
    "raison",
    "motif",
    "motivo",
    "razon",
    "powod",
    "przyczyna",
    "razao",
  ],
};

const SETS = Object.fromEntries(
  Object.entries(HEADER_WORDS).map(([kind, words]) => [kind, new Set(words.map(squash))]),
) as Record<keyof typeof HEADER_WORDS, Set<string>>;

/** Which columns a header row names: address (by kind), channel and reason; null when none. */
export type HeaderColumns = {
  address: number | null;
  addressKind: "email" | "phone" | "generic" | null;
  channel: number | null;
  reason: number | null;
};

/**
 * The columns a header row names, in any page language. Pure: the import preview and scheduled
 * data sources (which map fields of fetched files) both use it. An exact name wins over a
 * name's beginning; the first column of a kind wins.
 */
export function detectHeaderColumns(headers: readonly string[]): HeaderColumns {
  const squashed = headers.map((h) => squash(h ?? ""));
  const find = (kind: keyof typeof HEADER_WORDS, taken: number[] = []): number | null => {
    let i = squashed.findIndex((h, j) => h !== "" && !taken.includes(j) && SETS[kind].has(h));
    if (i < 0) {
      i = squashed.findIndex(
        (h, j) => h !== "" && !taken.includes(j) && STEMS[kind].some((st) => h.startsWith(st)),
      );
    }
    return i >= 0 ? i : null;
  };
  const email = find("email");
  const phone = find("phone", email !== null ? [email] : []);
  const generic = find("generic");
  const address = email ?? phone ?? generic;
  const addressKind =
    address === null ? null : address === email ? "email" : address === phone ? "phone" : "generic";
  const taken = address !== null ? [address] : [];
  const reason = find("reason", taken);
  const channel = find("channel", reason !== null ? [...taken, reason] : taken);
  return { address, addressKind, channel, reason };
}

const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_LIKE = /^(?:whatsapp:|tel:|sms:)?\+?[\d\s().-]{6,20}$/i;

export function looksLikeAddress(value: string): "email" | "phone" | null {
  const v = value.trim();
  if (EMAIL_LIKE.test(v)) return "email";
  if (PHONE_LIKE.test(v) && (v.match(/\d/g)?.length ?? 0) >= 6) return "phone";
  return null;
}

export type DetectOptions = {
  /** The operator's choice: a header name, a column letter (A, B, ...) or a 1-based number. */
  addressColumn?: string | null;
  reasonColumn?: string | null;
  /** Whether rows carry their own channel (no channel was chosen). */
  channelFromFile: boolean;
};

export type DetectResult = { ok: true; mapping: ImportMapping } | { ok: false; error: string };

/** A spreadsheet column's letter: 0 → A, 25 → Z, 26 → AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let s = "";
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

/** A column chosen by the operator: header name (any case), column letter, or 1-based number. */
function findChosen(choice: string, header: string[] | null, width: number): number | null {
  const c = choice.trim();
  if (header) {
    const i = header.findIndex((h) => squash(h) === squash(c) && squash(c) !== "");
    if (i >= 0) return i;
  }
  if (/^\d{1,4}$/.test(c)) {
    const i = Number(c) - 1;
    return i >= 0 && i < Math.max(width, 1) ? i : null;
  }
  if (/^[A-Za-z]{1,3}$/.test(c)) {
    let n = 0;
    for (const ch of c.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
    return n - 1 < Math.max(width, 1) ? n - 1 : null;
  }
  return null;
}

/**
 * `rows` are the first non-empty rows of the file (up to ~50), as cell strings.
 */
export function detectColumns(rows: string[][], options: DetectOptions): DetectResult {
  if (rows.length === 0) return { ok: false, error: "The file is empty: it has no rows." };
  const width = Math.max(...rows.map((r) => r.length));
  const first = rows[0]!;
  const firstHasAddress = first.some((c) => looksLikeAddress(c) !== null);
  const named = detectHeaderColumns(first);
  const anyNamed = named.address !== null || named.channel !== null || named.reason !== null;
  // A header row names columns and holds no address itself.
  const header = anyNamed || (!firstHasAddress && rows.length > 1);
  const headerRow = header ? first : null;
  const body = header ? rows.slice(1) : rows;
  const label = (i: number) =>
    headerRow?.[i]?.trim() ? headerRow[i]!.trim() : `column ${columnLetter(i)}`;

  let address: number | null = null;
  if (options.addressColumn?.trim()) {
    address = findChosen(options.addressColumn, headerRow, width);
    if (address === null) {
      return {
        ok: false,
        error: `The file has no column "${options.addressColumn.trim()}". Leave the address column empty to detect it, or give a header name, a column letter or a number.`,
      };
    }
  } else {
    address = named.address;
    if (address === null) {
      // By content: the column where most values look like an email address or a phone number.
      let best = -1;
      let bestScore = 0;
      for (let col = 0; col < width; col++) {
        const values = body.map((r) => r[col] ?? "").filter((v) => v.trim() !== "");
        if (values.length === 0) continue;
        const hits = values.filter((v) => looksLikeAddress(v) !== null).length;
        const score = hits / values.length;
        if (hits > 0 && score > bestScore) {
          best = col;
          bestScore = score;
        }
      }
      if (best >= 0 && bestScore >= 0.5) address = best;
    }
  }
  if (address === null) {
    return {
      ok: false,
      error:
        "No address column found. Name the column email, phone or address (or choose it in the form); its values must be email addresses or phone numbers.",
    };
  }

  let reason: number | null = null;
  if (options.reasonColumn?.trim()) {
    reason = findChosen(options.reasonColumn, headerRow, width);
    if (reason === null) {
      return {
        ok: false,
        error: `The file has no column "${options.reasonColumn.trim()}" for the reason.`,
      };
    }
  } else if (named.reason !== null && named.reason !== address) {
    reason = named.reason;
  }

  const channel = named.channel !== null && named.channel !== address ? named.channel : null;
  if (options.channelFromFile && channel === null) {
    return {
      ok: false,
      error:
        'The file has no "channel" column: choose the channel (email, SMS or WhatsApp) for every row.',
    };
  }
  return {
    ok: true,
    mapping: {
      header,
      addressColumn: address,
      channelColumn: options.channelFromFile ? channel : null,
      reasonColumn: reason,
      labels: {
        address: label(address),
        channel: options.channelFromFile && channel !== null ? label(channel) : null,
        reason: reason !== null ? label(reason) : null,
      },
    },
  };
}

/** `;`, `,`, tab or `|`: whichever occurs most often outside quotes in the first line. */
export function detectDelimiter(firstLine: string): string {
  const counts = new Map<string, number>([
    [",", 0],
    [";", 0],
    ["\t", 0],
    ["|", 0],
  ]);
  let quoted = false;
  for (const ch of firstLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ",";
  let bestCount = 0;
  for (const [d, n] of counts) {
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}
