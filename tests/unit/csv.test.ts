import { describe, expect, it } from "vitest";
import { csvCell, csvLine, csvStream } from "~/csv/csv.server";

async function* chunksOf(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

async function bytes(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("CSV cells and lines", () => {
  it("quotes what needs quoting (RFC 4180) and leaves the rest alone", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('say "hi", twice')).toBe('"say ""hi"", twice"');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
    expect(csvCell(-12)).toBe("-12");
    expect(csvLine(["a", 1, null, "b,c"])).toBe('a,1,,"b,c"\r\n');
  });

  it("defuses text a spreadsheet would run as a formula, except in raw columns", () => {
    for (const f of ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "\uFF1D1", "\uFF0B1"]) {
      expect(csvCell(f)).toBe(f.includes("\r") ? `"'${f}"` : `'${f}`);
    }
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvLine(["+48601000001", "=x"], [0])).toBe("+48601000001,'=x\r\n");
  });
});

describe("csvStream", () => {
  it("streams the chunks as UTF-8, skipping empty ones, with a byte order mark when asked", async () => {
    const plain = await bytes(csvStream(chunksOf("a\r\n", "", "", "b\r\n")));
    expect(new TextDecoder().decode(plain)).toBe("a\r\nb\r\n");
    const withBom = await bytes(csvStream(chunksOf("", "é\r\n"), { bom: true }));
    expect([...withBom.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(new TextDecoder("utf-8", { ignoreBOM: true }).decode(withBom)).toBe("\uFEFFé\r\n");
    const empty = await bytes(csvStream(chunksOf(), { bom: true }));
    expect([...empty]).toEqual([0xef, 0xbb, 0xbf]);
  });

  it("breaks the download when a chunk cannot be made, instead of ending it early", async () => {
    async function* failing(): AsyncGenerator<string> {
      yield "header\r\n";
      throw new Error("the database went away");
    }
    await expect(bytes(csvStream(failing()))).rejects.toThrow("the database went away");
  });

  it("reads the next chunk only when the client asks, and stops the source when it cancels", async () => {
    let made = 0;
    let stopped = false;
    async function* endless(): AsyncGenerator<string> {
      try {
        for (;;) {
          made++;
          yield `${made}\r\n`;
        }
      } finally {
        stopped = true;
      }
    }
    const reader = csvStream(endless()).getReader();
    await reader.read();
    await reader.read();
    expect(made).toBeLessThanOrEqual(3);
    await reader.cancel();
    expect(stopped).toBe(true);
  });
});
