import type { Migration } from "kysely/migration";
import * as m20261122T1000 from "./2026-11-22T1000_create_schema";
import * as m20261122T1300 from "./2026-11-22T1300_admin_search_indexes";
import * as m20261122T1400 from "./2026-11-22T1400_api_webhooks";
import * as m20261122T1500 from "./2026-11-22T1500_imports";
import * as m20261122T1600 from "./2026-11-22T1600_reports";
import * as m20261128T0900 from "./2026-11-28T0900_inbound";
import * as m20261128T1100 from "./2026-11-28T1100_suppressions_export_index";
import * as m20261128T1200 from "./2026-11-28T1200_sms_rules";
import * as m20261128T1300 from "./2026-11-28T1300_email_events";
import * as m20261128T1400 from "./2026-11-28T1400_webhook_retries";
import * as m20261128T1401 from "./2026-11-28T1401_first_signup";
import * as m20261129T1200 from "./2026-11-29T1200_consent_hash_collation";
import * as m20261129T1300 from "./2026-11-29T1300_import_preview";
import * as m20261129T1500 from "./2026-11-29T1500_no_reason_choice";
import * as m20261129T1600 from "./2026-11-29T1600_frequency";
import * as m20261129T1601 from "./2026-11-29T1601_ledger_chain";
import * as m20261129T1700 from "./2026-11-29T1700_data_sources";
import * as m20261130T1000 from "./2026-11-30T1000_suppression_list_and_logo";
import * as m20261130T1100 from "./2026-11-30T1100_consent_lookup_key";
import * as m20261130T1200 from "./2026-11-30T1200_ledger_chain_given";
import * as m20261130T1300 from "./2026-11-30T1300_admin_user_locale";
import * as m20261201T1500 from "./2026-12-01T1500_ledger_chain_plan";
import * as m20261202T0900 from "./2026-12-02T0900_ledger_leaving_keyset";
import * as m20261203T1000 from "./2026-12-03T1000_ledger_campaign_keyset";
import * as m20261205T1000 from "./2026-12-05T1000_send_check_probe_hash";

/**
 * Every migration, by name, in the order they apply. The server is one bundle, so migrations are
 * imported here rather than read from disk at run time; a test checks that every file in this
 * folder is listed.
 */
export const migrations: Record<string, Migration> = {
  "2026-11-22T1000_create_schema": m20261122T1000,
  "2026-11-22T1300_admin_search_indexes": m20261122T1300,
  "2026-11-22T1400_api_webhooks": m20261122T1400,
  "2026-11-22T1500_imports": m20261122T1500,
  "2026-11-22T1600_reports": m20261122T1600,
  "2026-11-28T0900_inbound": m20261128T0900,
  "2026-11-28T1100_suppressions_export_index": m20261128T1100,
  "2026-11-28T1200_sms_rules": m20261128T1200,
  "2026-11-28T1300_email_events": m20261128T1300,
  "2026-11-28T1400_webhook_retries": m20261128T1400,
  "2026-11-28T1401_first_signup": m20261128T1401,
  "2026-11-29T1200_consent_hash_collation": m20261129T1200,
  "2026-11-29T1300_import_preview": m20261129T1300,
  "2026-11-29T1500_no_reason_choice": m20261129T1500,
  "2026-11-29T1600_frequency": m20261129T1600,
  "2026-11-29T1601_ledger_chain": m20261129T1601,
  "2026-11-29T1700_data_sources": m20261129T1700,
  "2026-11-30T1000_suppression_list_and_logo": m20261130T1000,
  "2026-11-30T1100_consent_lookup_key": m20261130T1100,
  "2026-11-30T1200_ledger_chain_given": m20261130T1200,
  "2026-11-30T1300_admin_user_locale": m20261130T1300,
  "2026-12-01T1500_ledger_chain_plan": m20261201T1500,
  "2026-12-02T0900_ledger_leaving_keyset": m20261202T0900,
  "2026-12-03T1000_ledger_campaign_keyset": m20261203T1000,
  "2026-12-05T1000_send_check_probe_hash": m20261205T1000,
};
