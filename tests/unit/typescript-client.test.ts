import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { generateClientFiles } from "~/cli/generate-client";

/**
 * The typed client in clients/typescript is what senders copy: its generated types must match
 * the API this code serves, and the client and the README's example must compile against them.
 */
describe("the typed client for senders", () => {
  it("clients/typescript/schema.d.ts is what openapi-typescript makes of the current document (else: npm run client:generate)", async () => {
    const files = await generateClientFiles();
    expect(Object.keys(files)).toEqual(["clients/typescript/schema.d.ts"]);
    for (const [file, content] of Object.entries(files)) {
      const checkedIn = fs.readFileSync(path.resolve(file), "utf8");
      expect(checkedIn, `${file} is stale: run npm run client:generate and commit it`).toBe(
        content,
      );
    }
  }, 60_000);

  it("the client and the campaign example typecheck against the generated types", () => {
    const configFile = ts.readConfigFile(path.resolve("tsconfig.json"), (f) => ts.sys.readFile(f));
    const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, process.cwd());
    const roots = ["client.ts", "example.ts"].map((f) => path.resolve("clients/typescript", f));
    const program = ts.createProgram(roots, { ...parsed.options, noEmit: true });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(problems).toEqual([]);
  }, 60_000);
});
