/**
 * Integration test files share their worker's modules (vitest.config.ts: `isolate: false`), so
 * what a module keeps for the process is forgotten before each file, as a fresh process would
 * have it: the parsed configuration and secrets (a file may change process.env), the default
 * phone country read from the last file's database, and the recipient pages' cached settings and
 * last good branding. Nothing here parses the configuration: a file may still set process.env at
 * its top before its first getEnv().
 */
import { resetEnvForTests } from "../../app/env.server";
import { resetSecretsForTests } from "../../app/secrets.server";
import { resetPhoneRegionForTests } from "../../app/settings/phone-region.server";
import { resetRecipientCacheForTests } from "../../app/recipient/cache.server";

resetEnvForTests();
resetSecretsForTests();
resetPhoneRegionForTests();
resetRecipientCacheForTests();
