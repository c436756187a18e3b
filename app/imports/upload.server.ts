import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  MaxPartSizeExceededError,
  NodeOnDiskFile,
  unstable_composeUploadHandlers,
  unstable_createFileUploadHandler,
  unstable_createMemoryUploadHandler,
  unstable_parseMultipartFormData,
  type UploadHandler,
} from "@remix-run/node";
import { CSRF_FIELD } from "~/admin/csrf.server";
import { tooLarge } from "~/imports/jobs.server";
import { decodeFileName, withSafeFileNames } from "~/imports/multipart-names.server";
import { ImportFileError } from "~/imports/read.server";

/**
 * The HTTP edge of an import upload (used by the /admin/imports action): streams the multipart
 * body's `file` part to HEED_DATA_DIR/imports/<id>.upload (never whole in memory) and stops
 * (deleting the partial file) as soon as it passes the size limit. Other fields are small text.
 *
 * The form's CSRF token comes first in the body (the form puts its hidden field before the file):
 * `checkToken` is given it before a byte of the file is written, and an upload whose first part is
 * anything else is refused by `checkToken(null)`. So the token never needs to be in the URL
 * (docs/decisions/0092-csrf-token-first-in-the-upload.md).
 */

export type ReceivedUpload = {
  id: string;
  fields: Record<string, string>;
  file: { path: string; storedFile: string; name: string; size: number } | null;
};

const MAX_FIELD_BYTES = 64 * 1024;
/** A CSRF token is 43 characters (base64url of an HMAC-SHA256). */
const MAX_TOKEN_CHARS = 256;

export async function receiveImportUpload(
  request: Request,
  options: {
    dir: string;
    maxBytes: number;
    /** Throws (a 403 Response) unless the token is the session's; null when none came first. */
    checkToken?: (token: string | null) => void;
  },
): Promise<ReceivedUpload> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    throw new ImportFileError("Choose a CSV, XLSX or ODS file to upload.");
  }
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes + 1024 * 1024) {
    throw tooLarge(options.maxBytes);
  }
  const id = crypto.randomUUID();
  const storedFile = `${id}.upload`;
  await fs.promises.mkdir(options.dir, { recursive: true });
  let originalName = "";
  let tokenChecked = !options.checkToken;
  const tokenFirst: UploadHandler = async ({ name, data }) => {
    if (tokenChecked) return undefined;
    if (name !== CSRF_FIELD) {
      options.checkToken!(null);
      throw new ImportFileError("The upload could not be read. Try again.");
    }
    let token = "";
    for await (const chunk of data) {
      token += Buffer.from(chunk).toString("utf8");
      if (token.length > MAX_TOKEN_CHARS) break;
    }
    options.checkToken!(token.length > MAX_TOKEN_CHARS ? null : token);
    tokenChecked = true;
    return token;
  };
  const handler = unstable_composeUploadHandlers(
    tokenFirst,
    unstable_createFileUploadHandler({
      directory: options.dir,
      avoidFileConflicts: false,
      maxPartSize: options.maxBytes,
      filter: ({ name }) => name === "file",
      file: ({ filename }) => {
        originalName = path
          .basename(decodeFileName(String(filename ?? "")).replace(/\\/g, "/"))
          .slice(0, 255);
        return storedFile;
      },
    }),
    unstable_createMemoryUploadHandler({ maxPartSize: MAX_FIELD_BYTES }),
  );
  let form: FormData;
  try {
    form = await unstable_parseMultipartFormData(withSafeFileNames(request), handler);
  } catch (e) {
    await fs.promises.rm(path.join(options.dir, storedFile), { force: true });
    // A refused token (403) or our own refusal: as thrown.
    if (e instanceof Response || e instanceof ImportFileError) throw e;
    if (e instanceof MaxPartSizeExceededError) {
      if (e.field === "file") throw tooLarge(options.maxBytes);
      throw new ImportFileError(`The form field "${e.field}" is too long.`);
    }
    throw new ImportFileError("The upload could not be read. Try again.");
  }
  const fields: Record<string, string> = {};
  let file: ReceivedUpload["file"] = null;
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") fields[name] = value;
    else if (name === "file" && value instanceof NodeOnDiskFile) {
      const p = path.join(options.dir, storedFile);
      file = {
        path: p,
        storedFile,
        name: originalName || "upload",
        size: (await fs.promises.stat(p)).size,
      };
    }
  }
  return { id, fields, file };
}

/** Deletes an upload that did not become a job. */
export async function discardUpload(upload: ReceivedUpload | null): Promise<void> {
  if (upload?.file) await fs.promises.rm(upload.file.path, { force: true });
}
