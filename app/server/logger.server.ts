import pino from "pino";

/**
 * Structured JSON logs. Request logs carry a request id, method, a redacted path, status and
 * duration; never a token, an address, a query string, a cookie or a password.
 */
export function createLogger(level: string) {
  return pino({
    level,
    base: { service: "heed" },
    redact: {
      paths: ["password", "*.password", "token", "*.token", "email", "*.email", "phone", "*.phone"],
      censor: "[redacted]",
    },
  });
}

// Path segments that may hold a token, a short code, an external id, an address or a key.
const REDACTIONS: [RegExp, string][] = [
  [/^\/(p|u|c|s)\/[^/]+/, "/$1/:token"],
  [/^\/api\/v1\/contacts\/[^/]+/, "/api/v1/contacts/:externalId"],
  [/^\/admin\/contacts\/[^/]+/, "/admin/contacts/:id"],
];

/** The path of a URL with tokens and identifiers replaced, and no query string. */
export function redactPath(url: string): string {
  let p = url.split(/[?#]/, 1)[0] ?? "/";
  try {
    p = decodeURIComponent(p);
  } catch {
    /* keep as is */
  }
  for (const [re, replacement] of REDACTIONS) {
    if (re.test(p)) return p.replace(re, replacement);
  }
  // Anything else that looks like an address or a long opaque value.
  return p
    .split("/")
    .map((seg) => (seg.includes("@") || seg.startsWith("+") || seg.length > 40 ? ":redacted" : seg))
    .join("/");
}
