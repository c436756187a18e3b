import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import {
  checkOutboundUrl,
  publicLookup,
  SsrfError,
  type OutboundPolicy,
} from "~/security/outbound.server";

/**
 * Fetches a data source's URL to a file, through the SSRF guard (app/security/outbound.server.ts):
 * the URL and every redirect hop are checked before connecting (redirects are followed here, one
 * hop at a time, never by the HTTP library), the connection itself only reaches addresses the
 * guard allows (its `lookup`), the answer is streamed to disk and cut off past `maxBytes`, and the
 * whole exchange (every hop) has one deadline. Credentials go only to the URL's own origin: a
 * redirect to another origin is followed without them.
 *
 * requestPublic (the webhooks' door) keeps the answer in memory; a suppression list can be large,
 * so this streams it to a file instead, with the same checks.
 */

export type SourceFetchPolicy = {
  /**
   * TEST ONLY: which non-public addresses may be reached (the test's local HTTP server on
   * 127.0.0.1). Never set from the configuration in production (see DATA_SOURCES_TEST_ALLOW_LOCAL).
   */
  allowPrivate?: OutboundPolicy["allowPrivate"];
  /** TEST ONLY: allow http:// (the test's local server has no certificate). */
  allowHttp?: boolean;
};

export type FetchLimits = { maxBytes: number; timeoutMs: number; maxRedirects?: number };

export class SourceFetchError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | null = null,
  ) {
    super(message);
    this.name = "SourceFetchError";
  }
}

export type FetchedFile = { status: number; bytes: number; url: string; contentType: string };

const MAX_REDIRECTS = 5;

function mb(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;
}

/** Downloads `url` to `filePath` (created or truncated). Throws SourceFetchError or SsrfError. */
export async function fetchToFile(
  url: string,
  filePath: string,
  input: { headers: Record<string, string>; limits: FetchLimits; policy?: SourceFetchPolicy },
): Promise<FetchedFile> {
  const policy = input.policy ?? {};
  const { limits } = input;
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), limits.timeoutMs);
  const first = new URL(url);
  let target = first;
  try {
    for (let hop = 0; ; hop++) {
      const checked = await checkOutboundUrl(target, {
        allowPrivate: policy.allowPrivate,
        requireHttps: !policy.allowHttp,
      });
      if (!checked.ok) {
        throw new SsrfError(
          hop === 0
            ? `The URL ${checked.reason}.`
            : `A redirect to ${target.host} was refused: ${checked.reason}.`,
        );
      }
      // Credentials only to the origin the admin gave.
      const headers = checked.url.origin === first.origin ? input.headers : {};
      const res = await request(checked.url, headers, policy, controller.signal);
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location)
          throw new SourceFetchError(`The server answered ${status} without a Location.`, status);
        if (hop >= (limits.maxRedirects ?? MAX_REDIRECTS)) {
          throw new SourceFetchError(
            `Too many redirects (more than ${limits.maxRedirects ?? MAX_REDIRECTS}).`,
            status,
          );
        }
        target = new URL(location, checked.url);
        continue;
      }
      if (status < 200 || status > 299) {
        res.resume();
        throw new SourceFetchError(
          `The server answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ""}.`,
          status,
        );
      }
      const declared = Number(res.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        res.destroy();
        throw new SourceFetchError(
          `The answer is too large: ${mb(declared)}; at most ${mb(limits.maxBytes)} is allowed (DATA_SOURCE_MAX_MB).`,
          status,
        );
      }
      let bytes = 0;
      const cap = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          if (bytes > limits.maxBytes) {
            done(
              new SourceFetchError(
                `The answer is too large: more than ${mb(limits.maxBytes)} (DATA_SOURCE_MAX_MB).`,
                status,
              ),
            );
          } else done(null, chunk);
        },
      });
      await pipeline(res, cap, fs.createWriteStream(filePath), { signal: controller.signal });
      return {
        status,
        bytes,
        url: checked.url.toString(),
        contentType: String(res.headers["content-type"] ?? ""),
      };
    }
  } catch (e) {
    if (controller.signal.aborted) {
      throw new SourceFetchError(
        `No complete answer within ${Math.round(limits.timeoutMs / 1000)} s (DATA_SOURCE_TIMEOUT_SECONDS).`,
      );
    }
    if (e instanceof SourceFetchError || e instanceof SsrfError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ESSRF") throw new SsrfError(err.message);
    throw new SourceFetchError(`The request failed: ${err.code ?? err.message}.`);
  } finally {
    clearTimeout(deadline);
  }
}

function request(
  url: URL,
  headers: Record<string, string>,
  policy: SourceFetchPolicy,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      method: "GET",
      headers: {
        "User-Agent": "Heed data source",
        Accept: "text/csv, application/json, application/xml, text/xml, */*;q=0.5",
        ...headers,
      },
      lookup: publicLookup({ allowPrivate: policy.allowPrivate }),
      agent: false,
      signal,
    });
    req.on("response", resolve);
    req.on("error", reject);
    req.end();
  });
}
