/**
 * Test configuration: fixed, obviously-test secrets (never used outside tests), so tokens and
 * address hashes are reproducible. Loaded before every test file.
 */
import os from "node:os";
import path from "node:path";

process.env.NODE_ENV = "test";
process.env.SIGNING_KEYS ??=
  "test-2:test-signing-key-two-0123456789abcdef,test-1:test-signing-key-one-0123456789abcdef";
process.env.SESSION_SECRET ??= "test-session-secret-0123456789abcdefghijkl";
process.env.ADDRESS_HASH_KEY ??= "test-address-hash-key-0123456789abcdefghij";
process.env.HEED_DATA_DIR ??= path.join(os.tmpdir(), `heed-test-${process.pid}`);
process.env.LOG_LEVEL ??= "silent";
