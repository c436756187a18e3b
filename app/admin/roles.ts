/**
 * The admin-area roles, shared by the server (validation, authorization) and the browser (the
 * users page lists them): a plain module, not `*.server.ts`, because a value imported from a
 * server module is `undefined` in the browser bundle.
 */
export const ROLES = ["agent", "admin"] as const;
export type Role = (typeof ROLES)[number];
