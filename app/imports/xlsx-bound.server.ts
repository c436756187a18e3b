import fs from "node:fs";
import type { Readable } from "node:stream";
// exceljs's own unzip (a dependency of exceljs, resolved from it): the bound below must read the
// archive exactly as exceljs's WorkbookReader will, local headers and all, not as yauzl reads the
// central directory (a crafted zip can say different things in the two places).
import unzipper from "unzipper";
import { getEnv } from "~/env.server";
import { ImportFileError, type ZipLimits } from "~/imports/read.server";

/**
 * A bound on what reading an XLSX may expand (issue 11.7). exceljs decompresses through its own
 * unzip and trusts nothing but the stream, so a zip bomb that declares small sizes (and passes
 * the upload's check of declared sizes, checkZip) would expand — into memory, for the shared
 * strings — before anything failed. Before exceljs opens a file, this reads it once through the
 * same unzip and counts the bytes that really come out of every entry, refusing the file as soon
 * as they pass `IMPORT_MAX_ZIP_RATIO` times the file's real size or the import's expanded-size
 * cap. Nothing is kept (the bytes are counted and dropped), so memory stays flat. A file that
 * passed is remembered (path, size, modification time), so the preview and the import do not
 * count it again.
 */

type Entry = Readable & { path: string; autodrain(): void };
type Parse = (options: { forceStream: true }) => NodeJS.ReadWriteStream & AsyncIterable<Entry>;

/** Below this, any ratio is fine (a tiny XLSX of XML compresses very well). */
const RATIO_FLOOR_BYTES = 16 * 1024 * 1024;

const passed = new Map<string, string>();

/** The limits of an import (the same as importLimits in jobs.server.ts). */
export function defaultXlsxLimits(): ZipLimits {
  const env = getEnv();
  const maxFileBytes = env.IMPORT_MAX_FILE_MB * 1024 * 1024;
  return {
    maxRatio: env.IMPORT_MAX_ZIP_RATIO,
    maxExpandedBytes: Math.max(maxFileBytes * 10, 256 * 1024 * 1024),
  };
}

/** Throws ImportFileError when the XLSX expands beyond its bound (see the module comment). */
export async function boundXlsxExpansion(
  filePath: string,
  limits: ZipLimits = defaultXlsxLimits(),
): Promise<{ expandedBytes: number }> {
  const stat = await fs.promises.stat(filePath);
  const stamp = `${stat.size}:${stat.mtimeMs}:${limits.maxRatio}:${limits.maxExpandedBytes}`;
  if (passed.get(filePath) === stamp) return { expandedBytes: -1 };
  const cap = Math.min(
    limits.maxExpandedBytes,
    Math.max(RATIO_FLOOR_BYTES, stat.size * limits.maxRatio),
  );
  const input = fs.createReadStream(filePath);
  const zip = input.pipe((unzipper as unknown as { Parse: Parse }).Parse({ forceStream: true }));
  // Stopping early aborts the unzip and the entry being read: those errors are expected.
  const ignore = () => {};
  input.on("error", ignore);
  zip.on("error", ignore);
  let total = 0;
  try {
    for await (const entry of zip) {
      entry.on("error", ignore);
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > cap) {
          throw new ImportFileError(
            `Refused as a possible zip bomb: ${entry.path.slice(0, 100)} expands to more than ${Math.round(
              cap / 1024 / 1024,
            )} MB (${total > limits.maxExpandedBytes ? "the expanded-size limit" : `${limits.maxRatio} times the file's size`}).`,
          );
        }
      }
    }
  } catch (e) {
    if (e instanceof ImportFileError) throw e;
    throw new ImportFileError(`The XLSX file could not be read: ${(e as Error).message}`);
  } finally {
    input.destroy();
  }
  if (passed.size > 100) passed.clear();
  passed.set(filePath, stamp);
  return { expandedBytes: total };
}
