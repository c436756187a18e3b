/**
 * Response headers that many answers share. Nothing an admin page, a recipient page, an API
 * answer or a download shows may be kept by a browser or a proxy cache: they carry personal data,
 * tokens or one-time secrets.
 */
export const NO_STORE = { "Cache-Control": "no-store" } as const;

/** A short plain-text answer (an error a person reads), not cached. */
export const TEXT_NO_STORE = {
  "Content-Type": "text/plain; charset=utf-8",
  ...NO_STORE,
} as const;
