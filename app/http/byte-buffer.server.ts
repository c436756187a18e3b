/**
 * Bytes appended into one growing buffer: the links batch writes its tokens and its ~11 MB answer
 * this way (docs/decisions/0103-links-batch-bytes.md) instead of building strings and joining
 * them. Only `[0, length)` is ever read; the rest of the buffer is uninitialized scratch.
 */
export class ByteBuffer {
  buf: Buffer<ArrayBuffer>;
  length = 0;

  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** Makes room for `n` more bytes (buf may be replaced: read it after reserving). */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Appends bytes (short runs by a loop: a native copy's call costs more than ~64 bytes). */
  bytes(b: Uint8Array, start = 0, end = b.length): void {
    const n = end - start;
    this.reserve(n);
    const buf = this.buf;
    if (n > 64) buf.set(b.subarray(start, end), this.length);
    else for (let i = 0, at = this.length; i < n; i++) buf[at + i] = b[start + i]!;
    this.length += n;
  }

  /** Appends a string as UTF-8. */
  utf8(s: string): void {
    this.reserve(s.length * 3);
    this.length += this.buf.write(s, this.length, "utf8");
  }

  /** Appends one byte. */
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  /** Appends a copy of this buffer's own bytes [start, end). */
  again(start: number, end: number): void {
    this.reserve(end - start);
    this.length += this.buf.copy(this.buf, this.length, start, end);
  }

  /** The bytes [start, end) as a string of Latin-1 characters (ASCII text: tokens, codes). */
  latin1(start: number, end: number): string {
    return this.buf.toString("latin1", start, end);
  }

  /** The bytes written, without copying (valid until the next append). */
  view(): Buffer<ArrayBuffer> {
    return this.buf.subarray(0, this.length);
  }
}
