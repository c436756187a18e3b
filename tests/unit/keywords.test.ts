import { describe, expect, it } from "vitest";
import { parseKeyword } from "~/sms/keywords";

describe("SMS keywords (docs/inbound.md): first word, any case, punctuation ignored", () => {
  it.each([
    "STOP",
    "stop",
    "Stop please",
    "STOP!",
    "  stop.  ",
    "Stop, please",
    "stop,please",
    "S.T.O.P.",
    "STOPALL",
    "Unsubscribe",
    "cancel",
    "END",
    "quit",
    "Revoke",
    "OPTOUT",
    "opt out",
    "Opt-out",
    "OPT OUT of everything",
    "opt. out!",
    "🛑 stop",
    "Ｓｔｏｐ",
  ])("%j unsubscribes", (text) => {
    expect(parseKeyword(text)).toBe("stop");
  });

  it.each(["START", "start", "Unstop", "YES", "yes!", "Start please"])(
    "%j re-subscribes",
    (text) => {
      expect(parseKeyword(text)).toBe("start");
    },
  );

  it.each(["HELP", "help?", "Info", "INFO please"])("%j asks for help", (text) => {
    expect(parseKeyword(text)).toBe("help");
  });

  it.each([
    "",
    "   ",
    "Hello",
    "Please stop",
    "I want to stop",
    "stopped",
    "stopping by later",
    "optional",
    "opt",
    "out",
    "yesterday",
    "helpful",
    "ending",
    "don't stop",
  ])("%j is not a keyword", (text) => {
    expect(parseKeyword(text)).toBeNull();
  });

  it("takes no keyword from an empty or missing body", () => {
    expect(parseKeyword(undefined)).toBeNull();
    expect(parseKeyword(null)).toBeNull();
  });
});
