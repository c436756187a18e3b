/**
 * SMS/WhatsApp keywords (docs/inbound.md). A message whose first word is STOP, STOPALL, UNSUBSCRIBE,
 * CANCEL, END, QUIT, REVOKE or OPTOUT, or that starts with "opt out", unsubscribes; START,
 * UNSTOP and YES re-subscribe; HELP and INFO ask for help. Any case; punctuation, symbols and
 * emoji are ignored ("Stop!", "stop, please", "S.T.O.P.", "Opt-out" all count).
 */
export type Keyword = "stop" | "start" | "help";

const STOP = new Set([
  "stop",
  "stopall",
  "unsubscribe",
  "cancel",
  "end",
  "quit",
  "revoke",
  "optout",
]);
const START = new Set(["start", "unstop", "yes"]);
const HELP = new Set(["help", "info"]);

const PUNCTUATION = /[\p{P}\p{S}]+/gu;

export function parseKeyword(body: string | null | undefined): Keyword | null {
  if (!body) return null;
  const text = body.normalize("NFKC").toLowerCase().trim();
  // Punctuation as a word break ("stop,please") and punctuation dropped ("s.t.o.p.").
  const spaced = text.replace(PUNCTUATION, " ").trim().split(/\s+/);
  const firstToken = (text.split(/\s+/)[0] ?? "").replace(PUNCTUATION, "");
  const firstWords = new Set([spaced[0] ?? "", firstToken]);
  const has = (set: Set<string>) => [...firstWords].some((w) => set.has(w));
  if (has(STOP) || (spaced[0] === "opt" && spaced[1] === "out")) return "stop";
  if (has(START)) return "start";
  if (has(HELP)) return "help";
  return null;
}
