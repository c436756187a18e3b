import fs from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext, type APIResponse } from "@playwright/test";
import { csrfToken, loginAs } from "./admin-helpers";
import { BUILD_DIR } from "./env";
import { fixtures } from "./helpers";

/**
 * Authorization of EVERY route under /admin, read from the built app's route manifest, so a route
 * added later is covered without editing this file:
 *  - without a session, every GET and every POST (of routes with an action) answers 302 to the
 *    login page, or 401/403;
 *  - as an `agent`, every route not listed in AGENT_ROUTES refuses GET and POST with 403 (POSTs
 *    carry the agent's valid CSRF token, so the refusal is the role's), and the listed ones open;
 *  - as an `admin`, no route refuses.
 * A new route that agents may use must be added to AGENT_ROUTES (docs/admin.md: agents search contacts,
 * see history and suppress); anything else is admin-only by default.
 */
const AGENT_ROUTES: Record<string, { post: "agent" | "admin" | "none" }> = {
  "/admin": { post: "none" },
  "/admin/contacts": { post: "none" },
  "/admin/contacts/:id": { post: "agent" }, // suppress; removing is checked per intent (admin)
  "/admin/suppressions": { post: "agent" },
  // Agents apply or dismiss SMS replies that wait for review.
  "/admin/sms/review": { post: "agent" },
  "/admin/account": { post: "agent" },
  "/admin/logout": { post: "agent" },
  // Reports are read by agents too (see app/routes/admin.reports*.tsx); alert settings are admin-only.
  "/admin/reports": { post: "none" },
  "/admin/reports/alerts": { post: "admin" },
  "/admin/reports/campaigns/:key": { post: "none" },
  "/admin/reports/csv/:table": { post: "none" },
};
/** Public by nature. */
const PUBLIC_ROUTES = new Set(["/admin/login"]);

type ManifestRoute = {
  id: string;
  parentId?: string;
  path?: string;
  index?: boolean;
  hasAction: boolean;
  hasLoader: boolean;
};
type AdminRoute = {
  id: string;
  pattern: string;
  index: boolean;
  hasAction: boolean;
  hasLoader: boolean;
};

function readManifest(): Record<string, ManifestRoute> {
  const dir = path.join(BUILD_DIR, "public", "build");
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^manifest-[A-Z0-9]+\.js$/.test(f))
    .map((f) => ({ f, at: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  if (files.length === 0) throw new Error(`no route manifest in ${dir}: build the app first`);
  const text = fs.readFileSync(path.join(dir, files[0]!.f), "utf8");
  const json = text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1);
  return (JSON.parse(json) as { routes: Record<string, ManifestRoute> }).routes;
}

function adminRoutes(): AdminRoute[] {
  const routes = readManifest();
  const fullPath = (r: ManifestRoute): string => {
    const parent = r.parentId ? routes[r.parentId] : undefined;
    const own = r.path ?? "";
    const base = parent ? fullPath(parent) : "";
    return [base, own].filter(Boolean).join("/").replace(/\/+/g, "/");
  };
  return Object.values(routes)
    .map((r) => ({
      id: r.id,
      pattern: `/${fullPath(r)}`.replace(/\/+$/, "") || "/",
      index: Boolean(r.index),
      hasAction: r.hasAction,
      hasLoader: r.hasLoader,
    }))
    .filter((r) => r.pattern === "/admin" || r.pattern.startsWith("/admin/"))
    .filter((r) => !PUBLIC_ROUTES.has(r.pattern))
    .sort((a, b) => a.pattern.localeCompare(b.pattern) || a.id.localeCompare(b.id));
}

const ROUTES = adminRoutes();

type AdminFx = { contact: { id: string } };
const DUMMY_ID = "00000000-0000-4000-8000-000000000000";

function urlFor(r: AdminRoute, forPost: boolean): string {
  const { contact } = fixtures<AdminFx>("admin");
  // The real contact only where an agent may read it; made-up ids elsewhere (never a real target).
  const values: Record<string, string> = {
    id: r.pattern === "/admin/contacts/:id" ? contact.id : DUMMY_ID,
    key: "newsletter",
  };
  let url = r.pattern
    .split("/")
    .map((seg) =>
      seg.startsWith(":")
        ? encodeURIComponent(values[seg.slice(1).replace(/\?$/, "")] ?? "x")
        : seg === "*"
          ? "x"
          : seg,
    )
    .join("/");
  // A POST to a URL shared by a layout and its index reaches the index only with ?index.
  if (forPost && r.index) url += "?index";
  return url;
}

async function send(
  request: APIRequestContext,
  method: "GET" | "POST",
  url: string,
  csrf?: string,
): Promise<APIResponse> {
  return method === "GET"
    ? request.get(url, { maxRedirects: 0 })
    : request.post(url, { maxRedirects: 0, form: { intent: "probe", ...(csrf ? { csrf } : {}) } });
}

/** Not refused: no 401/403, no way to the login page, no server error (404 for a made-up id is fine). */
function isAllowed(res: APIResponse): boolean {
  return (
    res.status() !== 401 && res.status() !== 403 && res.status() < 500 && !isLoginRedirect(res)
  );
}

function isLoginRedirect(res: APIResponse): boolean {
  const location = res.headers()["location"] ?? "";
  return (
    [301, 302, 303, 307, 308].includes(res.status()) &&
    /^(https?:\/\/[^/]+)?\/admin\/login(\?|$)/.test(location)
  );
}

test("the route manifest lists the admin area's routes", () => {
  const patterns = ROUTES.map((r) => r.pattern);
  for (const p of [
    "/admin",
    "/admin/contacts",
    "/admin/contacts/:id",
    "/admin/users",
    "/admin/audit",
    "/admin/topics/:key",
  ]) {
    expect(patterns).toContain(p);
  }
});

test("without a session, every admin route sends GET and POST to the login page (or 401/403)", async ({
  playwright,
}) => {
  const anon = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  const failures: string[] = [];
  for (const r of ROUTES) {
    const methods: ("GET" | "POST")[] = r.hasAction ? ["GET", "POST"] : ["GET"];
    for (const method of methods) {
      const url = urlFor(r, method === "POST");
      const res = await send(anon, method, url);
      if (!(isLoginRedirect(res) || res.status() === 401 || res.status() === 403)) {
        failures.push(
          `${method} ${url} (${r.id}) → ${res.status()} ${res.headers()["location"] ?? ""}`,
        );
      }
    }
  }
  await anon.dispose();
  expect(failures).toEqual([]);
});

test("an agent is refused every admin-only route with 403, and can open the agent routes", async ({
  page,
}) => {
  const { users } = fixtures<{ users: Record<string, { email: string; password: string }> }>(
    "admin",
  );
  await loginAs(page, users.walker!);
  // POSTs carry the agent's valid CSRF token, so a 403 means the role was refused, not the form.
  const csrf = await csrfToken(page);
  expect(csrf).not.toBe("");
  const failures: string[] = [];
  for (const r of ROUTES) {
    const agentRoute = AGENT_ROUTES[r.pattern];
    const methods: ("GET" | "POST")[] = [];
    if (r.hasLoader || !agentRoute) methods.push("GET");
    if (r.hasAction && (!agentRoute || agentRoute.post === "admin")) methods.push("POST");
    for (const method of methods) {
      const url = urlFor(r, method === "POST");
      const res = await send(page.request, method, url, csrf);
      const allowed = method === "GET" && agentRoute !== undefined;
      if (allowed && !isAllowed(res))
        failures.push(
          `agent ${method} ${url} (${r.id}) → ${res.status()} (expected to be allowed)`,
        );
      if (!allowed && res.status() !== 403)
        failures.push(`agent ${method} ${url} (${r.id}) → ${res.status()} (expected 403)`);
    }
  }
  expect(failures).toEqual([]);
  // The session survived the walk (nothing logged the agent out).
  await page.goto("/admin/contacts");
  await expect(page.getByRole("heading", { level: 1, name: "Contacts" })).toBeVisible();
});

test("an admin is not refused by any admin route", async ({ page }) => {
  const { users } = fixtures<{ users: Record<string, { email: string; password: string }> }>(
    "admin",
  );
  await loginAs(page, users.walkerAdmin!);
  const failures: string[] = [];
  for (const r of ROUTES) {
    if (!r.hasLoader) continue;
    const url = urlFor(r, false);
    const res = await send(page.request, "GET", url);
    if (!isAllowed(res)) {
      failures.push(`admin GET ${url} (${r.id}) → ${res.status()}`);
    }
  }
  expect(failures).toEqual([]);
});

test("every admin page and download is sent with Cache-Control: no-store", async ({ page }) => {
  const { users } = fixtures<{ users: Record<string, { email: string; password: string }> }>(
    "admin",
  );
  await loginAs(page, users.walkerAdmin!);
  const cached: string[] = [];
  for (const r of ROUTES) {
    if (!r.hasLoader) continue;
    const url = urlFor(r, false);
    const res = await send(page.request, "GET", url);
    if (res.status() === 200 && res.headers()["cache-control"] !== "no-store") {
      cached.push(`${url} (${r.id}): ${res.headers()["cache-control"] ?? "no Cache-Control"}`);
    }
  }
  const login = await page.request.get("/admin/login", { maxRedirects: 0 });
  if (login.headers()["cache-control"] !== "no-store") cached.push("/admin/login");
  expect(cached).toEqual([]);
});
