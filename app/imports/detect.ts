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

const EMAIL_HEADERS = new Set(
  [
    "email",
    "e-mail",
    "email address",
    "e-mail address",
    "emailaddress",
    "mail",
    "email_address",
    "correo",
    "correo electronico",
    "courriel",
    "adres email",
    "adres e-mail",
    "e-mailadresse",
    "emailadresse",
    "endereco de email",
  ].map(squash),
);
const PHONE_HEADERS = new Set(
  [
    "phone",
    "phone number",
    "phonenumber",
    "mobile",
    "mobile number",
    "mobile phone",
    "cell",
    "cellphone",
    "msisdn",
    "tel",
    "telephone",
    "sms",
    "whatsapp",
    "number",
    "telefon",
    "telefono",
    "telefone",
    "numer telefonu",
    "handynummer",
    "portable",
  ].map(squash),
);
const GENERIC_HEADERS = new Set(
  ["address", "recipient", "contact", "to", "subscriber", "adres", "adresse", "direccion"].map(
    squash,
  ),
);
const CHANNEL_HEADERS = new Set(["channel", "kanal", "canal", "type"].map(squash));
const REASON_HEADERS = new Set(
  [
    "reason",
    "reason code",
    "unsubscribe reason",
    "suppression reason",
    "reason_code",
    "powod",
    "grund",
    "motivo",
    "raison",
  ].map(squash),
);

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

function columnLetter(index: number): string {
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
  const headerIndex = (set: Set<string>) => first.findIndex((c) => set.has(squash(c)));
  const named = {
    email: headerIndex(EMAIL_HEADERS),
    phone: headerIndex(PHONE_HEADERS),
    generic: headerIndex(GENERIC_HEADERS),
    channel: headerIndex(CHANNEL_HEADERS),
    reason: headerIndex(REASON_HEADERS),
  };
  const anyNamed = Object.values(named).some((i) => i >= 0);
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
    for (const i of [named.email, named.phone, named.generic]) {
      if (i >= 0) {
        address = i;
        break;
      }
    }
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
  } else if (named.reason >= 0 && named.reason !== address) {
    reason = named.reason;
  }

  const channel = named.channel >= 0 && named.channel !== address ? named.channel : null;
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
