import { Transform } from "node:stream";

/**
 * The server-rendered HTML stream without NUL bytes.
 *
 * React 18.3's streaming renderer (renderToPipeableStream) copies text into 2,048-byte views with
 * TextEncoder.encodeInto. When a multi-byte character (a Czech "ř", a Polish "ź") does not fit in
 * what is left of a view, encodeInto stops before it, and React then sends the WHOLE view, its
 * unwritten last byte or two included: zero bytes. Browsers show each as U+FFFD, so a recipient
 * page read "Potwierd�ź" whenever a character happened to straddle a view boundary (React 19
 * sends only the written part; React 18 is this project's pinned stack).
 *
 * Dropping every 0x00 byte is exact: in UTF-8 a zero byte is only ever the NUL character itself
 * (never part of a multi-byte sequence), and no page of Heed's renders a NUL (input with one is
 * refused with 400 at the edge: app/http/input-guard.server.ts).
 */
export function withoutNulBytes(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (chunk.indexOf(0) === -1) return done(null, chunk);
      const out = Buffer.allocUnsafe(chunk.length);
      let n = 0;
      for (const byte of chunk) if (byte !== 0) out[n++] = byte;
      done(null, out.subarray(0, n));
    },
  });
}
