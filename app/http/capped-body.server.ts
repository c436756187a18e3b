/**
 * A request body read into memory under a cap, counting as it reads (a declared Content-Length
 * over the cap is refused before anything is read). Every reader of a whole body uses this one:
 * the edge's input guard, the API's JSON bodies, and the email and SMS provider webhooks.
 *
 * Over the cap, `tooLarge()` is thrown (each caller answers 413 in its own shape) after
 * `afterRefusal` has been given the reader: by default the rest is cancelled; the input guard
 * instead starts reading and dropping it for a while so that the client sees its 413.
 */
export async function readCappedBody(
  request: Request,
  maxBytes: number,
  tooLarge: () => Error,
  afterRefusal: (reader: ReadableStreamDefaultReader<Uint8Array>) => Promise<void> = (reader) =>
    reader.cancel().catch(() => {}),
): Promise<Buffer<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      chunks.length = 0;
      await afterRefusal(reader);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
