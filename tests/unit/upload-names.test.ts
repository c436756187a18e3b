import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { receiveImportUpload } from "~/imports/upload.server";

/**
 * Issue 11.10: an upload named `a=b.csv` was refused as unreadable (Remix's multipart parser
 * splits the Content-Disposition on "=" and ";"). The names come through whole, and the file's
 * bytes are stored unchanged, even when they contain what looks like a part header.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-upload-names-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function upload(name: string, data: Uint8Array<ArrayBuffer>) {
  const form = new FormData();
  form.set("channel", "email");
  form.set("file", new Blob([new Uint8Array(data)]), name);
  const request = new Request("http://localhost/admin/imports", { method: "POST", body: form });
  return receiveImportUpload(request, { dir, maxBytes: 50 * 1024 * 1024 });
}

describe("import upload file names", () => {
  it.each([
    "a=b.csv",
    "x;y.csv",
    "100%=;%3D.csv",
    'quote".csv',
    "plain.csv",
    "Zażółć = gęślą.xlsx",
  ])("%s is received with its name", async (name) => {
    const received = await upload(name, new TextEncoder().encode("email\na@example.com\n"));
    expect(received.fields).toEqual({ channel: "email" });
    // Browsers send `"` as %22 in a multipart file name.
    expect(received.file?.name).toBe(name.replace(/"/g, "%22"));
  });

  it("stores the bytes unchanged, also a file that contains a part header of its own", async () => {
    const fake = Buffer.from(
      '\r\n--x\r\nContent-Disposition: form-data; name="file"; filename="q=r.csv"\r\n\r\n',
    );
    const data = Buffer.concat([
      crypto.randomBytes(3 * 1024 * 1024),
      fake,
      crypto.randomBytes(100_000),
    ]);
    const received = await upload("big=file.xlsx", data);
    expect(received.file?.name).toBe("big=file.xlsx");
    expect(Buffer.compare(fs.readFileSync(received.file!.path), data)).toBe(0);
  });
});
