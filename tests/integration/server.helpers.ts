/**
 * The real server, for tests that need it whole: the production build (`remix build`, cached by
 * a hash of the sources), started as its own process with real HTTP, and a TCP proxy in front of
 * PostgreSQL that a test can cut and restore (a database that goes away and comes back).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SOURCES = ["app", "migrations", "public", "remix.config.js", "tailwind.config.ts"];

function hashSources(): string {
  const h = crypto.createHash("sha1");
  const walk = (p: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else {
      h.update(path.relative(ROOT, p));
      h.update(fs.readFileSync(p));
    }
  };
  for (const s of SOURCES) walk(path.join(ROOT, s));
  return h.digest("hex").slice(0, 12);
}

/**
 * The server bundle of the current sources (tests/.tmp/server-build-<hash>/index.js), built once
 * and reused while the sources do not change. Concurrent test files wait for one build.
 */
export async function serverBuild(): Promise<string> {
  const dir = path.join(ROOT, "tests/.tmp", `server-build-${hashSources()}`);
  const entry = path.join(dir, "index.js");
  const lock = `${dir}.lock`;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (let waited = 0; !fs.existsSync(entry); waited += 200) {
    try {
      fs.mkdirSync(lock, { recursive: false });
    } catch {
      if (waited > 180_000) throw new Error(`gave up waiting for the build in ${dir}`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      const r = spawnSync("npx", ["remix", "build"], {
        cwd: ROOT,
        env: { ...process.env, HEED_BUILD_DIR: dir, NODE_ENV: "production" },
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`remix build failed:\n${r.stdout}\n${r.stderr}`);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return entry;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export const SERVER_SECRETS = {
  SIGNING_KEYS: process.env.SIGNING_KEYS!,
  SESSION_SECRET: process.env.SESSION_SECRET!,
  ADDRESS_HASH_KEY: process.env.ADDRESS_HASH_KEY!,
  FIRST_ADMIN_EMAIL: "admin@faults.test",
  FIRST_ADMIN_PASSWORD: "faults-admin-password-1",
};

export type RunningServer = {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the server wrote so far (JSON log lines on stdout, anything on stderr). */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  alive: () => boolean;
  stop: () => Promise<void>;
};

/** Starts the built server in production mode and waits until it answers /healthz. */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const entry = await serverBuild();
  const port = await freePort();
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ALLOW_INSECURE_PUBLIC_URL: "1",
      MAIL_FROM: "Heed tests <no-reply@heed.test>",
      LOG_LEVEL: "info",
      ...SERVER_SECRETS,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) =>
      child.on("exit", (code, signal) => {
        running = false;
        resolve({ code, signal, at: Date.now() });
      }),
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (!running) throw new Error(`the server exited while starting:\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (i > 300) throw new Error(`the server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    process: child,
    output: () => out,
    exited,
    alive: () => running,
    async stop() {
      if (!running) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A TCP proxy to a database server that a test can cut (every connection dropped, new ones
 * refused: the database is gone) and restore on the same port.
 */
export async function startDatabaseProxy(target: { host: string; port: number }) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  const listen = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
  };
  await listen();
  return {
    port,
    /** The database is gone: open connections break, new ones are refused. */
    async cut() {
      const s = server;
      server = null;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (s) await new Promise((r) => s.close(r));
    },
    /** The database is back. */
    async restore() {
      if (!server) await listen();
    },
    async close() {
      await this.cut();
    },
  };
}

/** Logs in to the admin area over HTTP, as a browser does; returns the Cookie header. */
export async function adminLogin(base: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password }).toString(),
    redirect: "manual",
  });
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  if (!cookie) throw new Error(`admin login failed: ${res.status}`);
  return cookie;
}

/** Uploads a CSV of email suppressions through Admin → Imports; returns the import's id. */
export async function adminUploadImport(base: string, cookie: string, csv: Blob): Promise<string> {
  const page = await (await fetch(`${base}/admin/imports`, { headers: { Cookie: cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error("no CSRF token on /admin/imports");
  // The token first, as the page's form sends it (the action checks it before the file).
  const form = new FormData();
  form.set("csrf", csrf);
  form.set("channel", "email");
  form.set("file", csv, "suppressions.csv");
  const res = await fetch(`${base}/admin/imports?index`, {
    method: "POST",
    headers: { Cookie: cookie },
    body: form,
    redirect: "manual",
  });
  const where = res.headers.get("location");
  if (res.status !== 302 || !where) {
    throw new Error(`import upload failed: ${res.status} ${await res.text()}`);
  }
  const id = where.split("/").pop()!;
  // The upload is a draft with a preview until the admin confirms it, as a person would.
  const preview = await (
    await fetch(`${base}/admin/imports/${id}`, { headers: { Cookie: cookie } })
  ).text();
  const token = /name="csrf" value="([^"]+)"/.exec(preview)?.[1];
  if (!token) throw new Error(`no CSRF token on the preview of import ${id}`);
  const confirm = await fetch(`${base}/admin/imports/${id}`, {
    method: "POST",
    headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf: token, intent: "confirm" }),
    redirect: "manual",
  });
  if (confirm.status !== 302) {
    throw new Error(`import confirm failed: ${confirm.status} ${await confirm.text()}`);
  }
  return id;
}
