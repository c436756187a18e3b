/**
 * The baselines that `npm run bench` starts itself, in the same run as the figures they are
 * compared with (plain JavaScript so that nothing but node runs it; never part of the product):
 *
 *   node tests/bench/table/baseline-server.mjs hello <port>
 *     bare node:http: 200 "ok" for every request (the floor for GET /healthz)
 *   node tests/bench/table/baseline-server.mjs pg-insert <port> <postgres url>
 *     bare node:http + one pg INSERT per POST (the floor for an RFC 8058 one-click POST): reads
 *     the body, inserts the path's token into a one-column table, answers 200.
 *
 * Prints "listening" on stdout once it accepts connections.
 */
import http from "node:http";
import pg from "pg";

const [mode, portArg, url] = process.argv.slice(2);
const port = Number(portArg);

let handler;
if (mode === "hello") {
  handler = (req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  };
} else if (mode === "pg-insert") {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  await pool.query("create table if not exists bench_baseline_clicks (token text not null)");
  handler = (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      pool.query("insert into bench_baseline_clicks (token) values ($1)", [req.url]).then(
        () => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end("ok");
        },
        (e) => {
          res.writeHead(503);
          res.end(String(e));
        },
      );
    });
  };
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

const server = http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => process.exit(0));
