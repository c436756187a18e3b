/**
 * Every translation, by locale and namespace: app/i18n/locales/<locale>/<namespace>.json.
 * Each feature owns its namespace file(s); add a namespace by importing it for every locale here.
 * A test checks that every key of every namespace exists in every locale.
 */
import csCommon from "./locales/cs/common.json";
import deCommon from "./locales/de/common.json";
import enCommon from "./locales/en/common.json";
import esCommon from "./locales/es/common.json";
import frCommon from "./locales/fr/common.json";
import plCommon from "./locales/pl/common.json";
import ptCommon from "./locales/pt/common.json";
import type { Locale } from "./config";

export const resources = {
  en: { common: enCommon },
  pl: { common: plCommon },
  pt: { common: ptCommon },
  cs: { common: csCommon },
  de: { common: deCommon },
  es: { common: esCommon },
  fr: { common: frCommon },
} satisfies Record<Locale, Record<string, unknown>>;

export type Namespace = keyof (typeof resources)["en"];
