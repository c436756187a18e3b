import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createRequestHandler,
  json,
  type AppLoadContext,
  type LoaderFunction,
  type ServerBuild,
} from "@remix-run/node";
import { cspNonce, requestIdFor } from "~/http/request.server";
import type { I18nPayload } from "~/i18n/i18n.shared";
import { preferencesPage, unsubscribePage } from "~/recipient/token-pages.server";

/**
 * The recipient pages' GETs (/u/{token}, /p/{token}) off Remix's per-request path (issue 14.2).
 *
 * Mail security gateways open every link of every message and recipients open their link once:
 * these pages are the busiest documents Heed serves. Through express and Remix a page cost more
 * than the trivial page `/`: Remix matches the request against the whole route table (React
 * Router flattens and ranks ~75 routes per match, three times per document), then React renders
 * the page. Here:
 *
 * 1. The page's data is read by the function its route's loader answers with
 *    (app/recipient/token-pages.server.ts: the token is verified, consent is read from the
 *    database; nothing is cached across requests but the operator's settings, as before). A
 *    refused or expired link, a database fault or anything thrown is left to the normal path,
 *    which answers it exactly as before.
 * 2. The loader's data, with the recipient's own strings (the token in the URL, their masked
 *    address, their preferences link) replaced by placeholders, is the key of a rendered
 *    template. On a miss the page is rendered by Remix and React from that placeholder data (a
 *    build with only the token pages' routes, whose loader returns the data), so a template never
 *    holds anything of a recipient: only what every recipient with the same locale, settings and
 *    consent states sees. The recipient's values are escaped for where each placeholder stands
 *    (HTML text and attributes as React escapes them, the hydration data as Remix does) and put in.
 * 3. The document is what Remix would have sent (the same markup, hydration data and headers;
 *    tests compare both byte for byte), with the security headers of every page and a fresh CSP
 *    nonce. It says `Server-Timing: page;desc="template"`.
 *
 * Requests with a query string, HEAD, and every other path go the normal way. Like the one-click
 * fast path, these answers write no request log line.
 */

/** Routes a token page's document needs (see tokenPagesBuild). */
export const TOKEN_PAGE_ROUTES = ["root", "routes/_index", "routes/u.$token", "routes/p.$token"];

const PAGE_PATH = /^\/([up])\/([A-Za-z0-9_.-]{1,2048})\/?$/;

/**
 * The Remix build with only the routes a token page can match or needs in its document. With
 * lazy route discovery (v3_lazyRouteDiscovery) a document carries only the routes matching its
 * path, its parent paths and `/` (root, routes/_index and the page's route), all of which are
 * here; the browser discovers any other route later through /__manifest, answered by the full
 * build. Matching over four routes instead of ~75 is most of what it saves.
 */
export function tokenPagesBuild(build: ServerBuild): ServerBuild {
  const keep = new Set(TOKEN_PAGE_ROUTES);
  for (const id of keep) {
    if (!build.routes[id] || !build.assets.routes[id]) {
      throw new Error(`the token pages' build needs route ${id}, which the app does not have`);
    }
  }
  const pick = <T>(all: Record<string, T>) =>
    Object.fromEntries(Object.entries(all).filter(([id]) => keep.has(id)));
  return {
    ...build,
    routes: pick(build.routes),
    assets: { ...build.assets, routes: pick(build.assets.routes) },
  };
}

// Placeholders: letters and digits only, so React's and Remix's escaping leave them as they are,
// and random per process, so no page text can contain one by chance.
const MARK = `hq${crypto.randomBytes(8).toString("hex")}`;
const slot = (i: number) => `${MARK}s${i}z`;
const NONCE_SLOT = `${MARK}nz`;
const SLOT_RE = new RegExp(`${MARK}(?:s(\\d+)|n)z`, "g");

type Json = Record<string, unknown>;

/**
 * Each page's recipient-specific strings: a copy of the data with them replaced by slots, and
 * their values (slot 0 is always the token in the URL). Anything else in the data is part of the
 * template's key, so a per-recipient value missed here only makes the template that recipient's
 * own, never shared.
 */
const PERSONAL = {
  u(data: Awaited<ReturnType<typeof unsubscribePage>> & { ok: true }, values: string[]) {
    const { target, preferencesUrl } = data.data;
    const put = (value: string) => slot(values.push(value) - 1);
    return {
      ...data.data,
      target: { ...target, display: target.display === null ? null : put(target.display) },
      preferencesUrl: put(preferencesUrl),
    };
  },
  p(data: Awaited<ReturnType<typeof preferencesPage>> & { ok: true }, values: string[]) {
    const put = (value: string) => slot(values.push(value) - 1);
    return {
      ...data.data,
      channels: data.data.channels.map((c) => ({ ...c, display: put(c.display) })),
    };
  },
};

const ROUTE_ID = { u: "routes/u.$token", p: "routes/p.$token" } as const;

// React's escaping of text and attribute values (react-dom/server escapeTextForBrowser).
const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#x27;",
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
// Remix's escaping of the hydration data (JSON) inside its <script> (server-runtime markup.ts).
const SCRIPT_ESCAPES: Record<string, string> = {
  "&": "\\u0026",
  ">": "\\u003e",
  "<": "\\u003c",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};
const escapeJsonInScript = (s: string) =>
  JSON.stringify(s)
    .slice(1, -1)
    .replace(/[&><\u2028\u2029]/g, (c) => SCRIPT_ESCAPES[c]!);

/** The template's key for a page's data: its JSON, with the strings named by their locale. */
function templateKey(data: Json): string {
  const i18n = data.i18n as I18nPayload;
  return JSON.stringify({
    ...data,
    i18n: { locale: i18n.locale, namespaces: Object.keys(i18n.resources) },
  });
}

/** A rendered page cut at its placeholders. */
type Template = {
  parts: string[];
  /** Between parts[i] and parts[i+1]: a value slot (html or script context) or the nonce. */
  holes: ({ slot: number; script: boolean } | "nonce")[];
  headers: Record<string, string>;
};

function compile(html: string, headers: Record<string, string>): Template {
  const contextAt = html.indexOf("window.__remixContext = ");
  const contextEnd = contextAt < 0 ? -1 : html.indexOf("</script>", contextAt);
  const parts: string[] = [];
  const holes: Template["holes"] = [];
  let last = 0;
  for (const m of html.matchAll(SLOT_RE)) {
    parts.push(html.slice(last, m.index));
    const at = m.index;
    holes.push(
      m[1] === undefined
        ? "nonce"
        : { slot: Number(m[1]), script: contextAt >= 0 && at > contextAt && at < contextEnd },
    );
    last = at + m[0].length;
  }
  parts.push(html.slice(last));
  return { parts, holes, headers };
}

function fill(t: Template, values: string[], nonce: string): string {
  let out = t.parts[0]!;
  for (let i = 0; i < t.holes.length; i++) {
    const hole = t.holes[i]!;
    if (hole === "nonce") out += nonce;
    else {
      const v = values[hole.slot] ?? "";
      out += hole.script ? escapeJsonInScript(v) : escapeHtml(v);
    }
    out += t.parts[i + 1];
  }
  return out;
}

/** Templates by key, least recently used dropped first. */
class Templates {
  private map = new Map<string, Promise<Template | null>>();
  constructor(private readonly max: number) {}
  get(key: string) {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }
  set(key: string, value: Promise<Template | null>) {
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  delete(key: string) {
    this.map.delete(key);
  }
}

export type TokenPageOptions = {
  build: ServerBuild;
  mode: string;
  /** Security headers for a document with this CSP nonce (the same middleware as every page). */
  securityHeaders: (req: IncomingMessage, res: ServerResponse, nonce: string) => void;
  loadContext: (req: IncomingMessage, nonce: string, requestId: string) => AppLoadContext;
  /** Templates kept (each a few tens of kB). */
  maxTemplates?: number;
};

/**
 * Returns a handler that answers a token page's GET and resolves true, or resolves false without
 * touching the response (the caller hands the request to express and Remix).
 */
export function tokenPageFastPath(options: TokenPageOptions) {
  const { build, mode } = options;
  const templates = new Templates(options.maxTemplates ?? 500);
  // The security headers every page gets, with the nonce as a placeholder: computed once.
  let security: [string, string][] | null = null;
  const securityHeaders = (req: IncomingMessage) => {
    if (!security) {
      const captured = new Map<string, string>();
      const collect = {
        setHeader: (name: string, value: string | number | readonly string[]) =>
          captured.set(name, String(value)),
        getHeader: (name: string) => captured.get(name),
        removeHeader: (name: string) => captured.delete(name),
        hasHeader: (name: string) => captured.has(name),
      };
      options.securityHeaders(req, collect as unknown as ServerResponse, NONCE_SLOT);
      security = [...captured];
    }
    return security;
  };
  // The template renderer: the token pages' build whose page loaders return the given data.
  const reduced = tokenPagesBuild(build);
  const templateLoader: LoaderFunction = ({ context }) =>
    json((context as unknown as { templateData: Json }).templateData);
  const renderBuild: ServerBuild = {
    ...reduced,
    routes: Object.fromEntries(
      Object.entries(reduced.routes).map(([id, route]) => [
        id,
        id === ROUTE_ID.u || id === ROUTE_ID.p
          ? { ...route, module: { ...route.module, loader: templateLoader } }
          : route,
      ]),
    ),
  };
  const render = createRequestHandler(renderBuild, mode);

  async function renderTemplate(
    page: "u" | "p",
    data: Json,
    req: IncomingMessage,
  ): Promise<Template | null> {
    const request = new Request(`http://heed.template/${page}/${slot(0)}`, {
      headers: { "user-agent": req.headers["user-agent"] ?? "" },
    });
    const context = {
      ...options.loadContext(req, NONCE_SLOT, "template"),
      templateData: data,
    } as AppLoadContext;
    const res = await render(request, context);
    const html = await res.text();
    if (res.status !== 200 || !res.headers.get("content-type")?.startsWith("text/html")) {
      return null;
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "set-cookie") headers[name] = value;
    });
    return compile(html, headers);
  }

  return async function serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== "GET") return false;
    const m = PAGE_PATH.exec(req.url ?? "");
    const page = m?.[1] as "u" | "p" | undefined;
    if (!m || !page) return false;
    const token = m[2]!;
    const nonce = cspNonce();
    // The client's X-Request-Id when valid, as on the normal path (a proxy's id, so logs match).
    const requestId = requestIdFor(req.headers["x-request-id"] as string | undefined);
    // What the page's data reads of the request: its headers (the language). A header Node
    // keeps as a list (set-cookie) is not one a request carries; as before, it is left out.
    const request = {
      headers: {
        get(name: string): string | null {
          const value = req.headers[name.toLowerCase()];
          return typeof value === "string" ? value : null;
        },
      },
    };
    const values = [token];
    let data: Json;
    try {
      if (page === "u") {
        const answer = await unsubscribePage(request, token);
        if (!answer.ok) return false;
        data = PERSONAL.u(answer, values);
      } else {
        const answer = await preferencesPage(request, token);
        if (!answer.ok) return false;
        data = PERSONAL.p(answer, values);
      }
    } catch {
      return false; // database faults and anything thrown: the normal path answers
    }
    // The data as the page receives it (JSON, as Remix sends it), without the personal strings.
    // The page's strings (`i18n`, most of the data) are the same for every page in a locale
    // (app/i18n: a locale's bundled resources for the namespaces named), so they stand in the
    // key by locale and namespaces instead of being serialized on every request.
    const key = `${page}\0${templateKey(data)}`;
    let pending = templates.get(key);
    if (!pending) {
      pending = renderTemplate(page, data, req).catch(() => null);
      templates.set(key, pending);
    }
    const template = await pending;
    if (!template) {
      templates.delete(key);
      return false;
    }
    const body = fill(template, values, nonce);
    if (res.headersSent || res.writableEnded) return true;
    for (const [name, value] of securityHeaders(req)) {
      res.setHeader(name, value.replaceAll(NONCE_SLOT, nonce));
    }
    res.setHeader("X-Request-Id", requestId);
    res.setHeader("Server-Timing", 'page;desc="template"');
    for (const [name, value] of Object.entries(template.headers)) res.setHeader(name, value);
    res.setHeader("Content-Length", Buffer.byteLength(body));
    res.writeHead(200);
    res.end(body);
    return true;
  };
}
