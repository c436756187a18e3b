/**
 * Remix's multipart parser (@web3-storage/multipart-parser) splits a part's Content-Disposition
 * on ";" and on the first "=" of each piece, so a file named `a=b.csv` or `x;y.csv` made the
 * whole upload "unreadable" (issue 11.10). The parser is not ours to fix, so the body is passed
 * through this stream first: in the header line that follows each boundary, the quoted
 * `filename="..."` value has its `%`, `=` and `;` percent-encoded, and `decodeFileName` gives the
 * name back. Nothing else of the body changes (file contents are never touched: only a
 * Content-Disposition line right after a boundary line is rewritten).
 */

/** Part headers are short; a match never needs more than this much of the stream at once. */
const HOLD_BYTES = 16 * 1024;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function encodeFileName(name: string): string {
  return name.replace(/%/g, "%25").replace(/=/g, "%3D").replace(/;/g, "%3B");
}

export function decodeFileName(name: string): string {
  return name.replace(/%3D/gi, "=").replace(/%3B/gi, ";").replace(/%25/g, "%");
}

/** The request with its multipart body's file names made safe for Remix's parser. */
export function withSafeFileNames(request: Request): Request {
  const type = request.headers.get("content-type") ?? "";
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  if (!request.body || !boundary) return request;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  // latin1: one character per byte, so offsets in the string are offsets in the bytes.
  const re = new RegExp(
    `(${escapeRe(delimiter)}\\r\\nContent-Disposition:[^\\r\\n]*?filename=")([^"\\r\\n]*)(")`,
    "gi",
  );
  let carry: Buffer = Buffer.alloc(0);
  const rewrite = (bytes: Buffer, final: boolean): Uint8Array => {
    const s = bytes.toString("latin1");
    let cut = final ? s.length : Math.max(0, s.length - HOLD_BYTES);
    let out = "";
    let last = 0;
    for (const m of s.matchAll(re)) {
      const start = m.index;
      const end = start + m[0].length;
      if (end > cut) {
        if (start < cut) cut = start;
        break;
      }
      out += s.slice(last, start) + m[1] + encodeFileName(m[2]!) + m[3];
      last = end;
    }
    out += s.slice(last, cut);
    carry = bytes.subarray(cut);
    return new Uint8Array(Buffer.from(out, "latin1"));
  };
  const body = request.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const out = rewrite(Buffer.concat([carry, chunk]), false);
        if (out.length) controller.enqueue(out);
      },
      flush(controller) {
        const out = rewrite(carry, true);
        if (out.length) controller.enqueue(out);
      },
    }),
  );
  const headers = new Headers(request.headers);
  headers.delete("content-length"); // the names may grow
  return new Request(request.url, {
    method: request.method,
    headers,
    body,
    signal: request.signal,
    duplex: "half",
  } as RequestInit);
}
