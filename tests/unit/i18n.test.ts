import { describe, expect, it } from "vitest";
import { LOCALES } from "~/i18n/config";
import {
  formatDate,
  getFixedT,
  i18nPayload,
  negotiateLocale,
  parseAcceptLanguage,
  toLocale,
} from "~/i18n/i18n.server";
import { createI18n } from "~/i18n/i18n.shared";
import { resources } from "~/i18n/resources";

/**
 * Every recipient page and message exists in en, pl, pt, cs, de, es, fr (docs/recipient-pages.md): every key of
 * every namespace in every locale, no English left behind, the same placeholders everywhere.
 */

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "string") out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

const PLURAL = /_(zero|one|two|few|many|other)$/;

/** Keys with plural suffixes collapse to their base: languages have different plural forms. */
function keySet(flat: Map<string, string>): Set<string> {
  return new Set([...flat.keys()].map((k) => k.replace(PLURAL, "_<plural>")));
}

function placeholders(s: string): string[] {
  return [...s.matchAll(/\{\{\s*([\w.]+)[^}]*\}\}/g)].map((m) => m[1]!).sort();
}

/**
 * Strings that are the same in English and in another language on purpose: brand and channel
 * names. namespace:key → locales where the English value is right.
 */
const SAME_AS_ENGLISH: Record<string, readonly string[]> = {
  "common:channels.sms": ["pl", "pt", "cs", "de", "es", "fr"],
  "common:channels.whatsapp": ["pl", "pt", "cs", "de", "es", "fr"],
  "labels:sources.api": ["pl", "pt", "cs", "de", "es", "fr"],
  "labels:sources.import": ["pl", "cs", "de", "fr"],
  "labels:sources.system": ["pl", "de"],
  "labels:sources.double_opt_in": ["fr"],
  "imports:preview.no": ["es"],
  "imports:job.title": ["pl", "cs", "de"],
  "access:fields.text": ["cs", "de"],
  "access:fields.status": ["de"],
  "access:fields.date": ["fr"],
  "access:fields.kind": ["fr"],
  "access:evidence.userAgent": ["de"],
  "suppressions:title": ["fr"],
  "suppressions:list.date": ["fr"],
  "branding:logo.title": ["pl", "cs", "de", "fr"],
};

const ns = (locale: string) => resources[locale as keyof typeof resources] as Record<string, Tree>;
const en = ns("en");

describe("translations", () => {
  it("every locale has every namespace of English, and nothing English lacks", () => {
    for (const locale of LOCALES) {
      expect(Object.keys(ns(locale)).sort(), locale).toEqual(Object.keys(en).sort());
    }
  });

  it("every key of every namespace exists in every locale (plural forms per language)", () => {
    for (const [namespace, tree] of Object.entries(en)) {
      const want = keySet(flatten(tree));
      for (const locale of LOCALES) {
        const flat = flatten(ns(locale)[namespace] ?? {});
        const have = keySet(flat);
        const missing = [...want].filter((k) => !have.has(k));
        const extra = [...have].filter((k) => !want.has(k));
        expect({ locale, namespace, missing, extra }).toEqual({
          locale,
          namespace,
          missing: [],
          extra: [],
        });
        // Plural keys: the forms this language needs (Intl.PluralRules) are all there.
        const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
        const bases = new Set(
          [...flat.keys()].filter((k) => PLURAL.test(k)).map((k) => k.replace(PLURAL, "")),
        );
        for (const base of bases) {
          for (const c of categories) {
            expect(flat.has(`${base}_${c}`), `${locale}/${namespace}: ${base}_${c}`).toBe(true);
          }
        }
      }
    }
  });

  it("no empty strings, and the same {{placeholders}} as English", () => {
    for (const [namespace, tree] of Object.entries(en)) {
      const enFlat = flatten(tree);
      for (const locale of LOCALES) {
        for (const [key, value] of flatten(ns(locale)[namespace] ?? {})) {
          expect(value.trim(), `${locale}/${namespace}:${key} is empty`).not.toBe("");
          const enValue = enFlat.get(key) ?? enFlat.get(key.replace(PLURAL, "_other"));
          if (enValue === undefined) continue;
          expect(placeholders(value), `${locale}/${namespace}:${key}`).toEqual(
            placeholders(enValue),
          );
        }
      }
    }
  });

  it("no non-English locale has English strings left (except brand and channel names)", () => {
    const leftovers: string[] = [];
    for (const [namespace, tree] of Object.entries(en)) {
      const enFlat = flatten(tree);
      for (const locale of LOCALES.filter((l) => l !== "en")) {
        for (const [key, value] of flatten(ns(locale)[namespace] ?? {})) {
          if (value !== enFlat.get(key)) continue;
          // Nothing but placeholders, digits and punctuation: nothing to translate.
          if (!/\p{L}/u.test(value.replace(/\{\{[^}]*\}\}/g, ""))) continue;
          if (SAME_AS_ENGLISH[`${namespace}:${key}`]?.includes(locale)) continue;
          leftovers.push(`${locale}/${namespace}:${key} = ${JSON.stringify(value)}`);
        }
      }
    }
    expect(leftovers).toEqual([]);
  });
});

describe("locale negotiation: the contact's locale, then Accept-Language, then English", () => {
  const req = (acceptLanguage?: string) => ({
    headers: new Headers(acceptLanguage ? { "accept-language": acceptLanguage } : {}),
  });

  it("the token's contact locale wins over the browser", () => {
    expect(negotiateLocale(req("de-DE,de;q=0.9"), "pl")).toBe("pl");
    expect(negotiateLocale(req("de"), "pt-BR")).toBe("pt");
  });

  it("Accept-Language by quality, skipping languages Heed does not speak", () => {
    expect(negotiateLocale(req("ja, fr;q=0.5, cs;q=0.8"), null)).toBe("cs");
    expect(negotiateLocale(req("es-MX"), "ja")).toBe("es");
    expect(parseAcceptLanguage("en;q=0.1, *;q=0.5, de;q=0, fr-CA;q=0.7, fr;q=0.9")).toEqual([
      "fr",
      "en",
    ]);
  });

  it("English when nothing matches or the header is missing or garbage", () => {
    expect(negotiateLocale(req(), null)).toBe("en");
    expect(negotiateLocale(req("ja, zh;q=0.9"), "xx")).toBe("en");
    expect(negotiateLocale(req(";;;q=abc,,"), "")).toBe("en");
    expect(negotiateLocale(null, undefined)).toBe("en");
    expect(toLocale("PL")).toBe("pl");
    expect(toLocale("de_AT")).toBe("de");
  });
});

describe("translating", () => {
  it("getFixedT translates per locale and namespace, with interpolation", () => {
    expect(getFixedT("pl", "common")("tokenError.expired.title")).toBe("Ten link wygasł");
    expect(
      getFixedT("de", "recipient")("preferences.change.unsubscribe", { channel: "E-Mail" }),
    ).toBe("E-Mail: abgemeldet");
  });

  it("a page payload carries only its locale and namespaces, and renders the same in the browser", () => {
    const payload = i18nPayload("fr", ["recipient"]);
    expect(payload.locale).toBe("fr");
    expect(Object.keys(payload.resources).sort()).toEqual(["common", "recipient"]);
    const t = createI18n(payload).getFixedT("fr", "recipient");
    expect(t("unsubscribe.what", { context: "sms", address: "+48 601" })).toBe(
      "Vous ne recevrez plus de SMS marketing au +48 601.",
    );
  });

  it("dates in the reader's language", () => {
    const d = new Date("2027-03-12T10:00:00Z");
    expect(formatDate("en", d)).toBe("March 12, 2027");
    expect(formatDate("pl", d)).toBe("12 marca 2027");
  });
});
