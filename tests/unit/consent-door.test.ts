/**
 * The one door: only app/consent/ writes the consent tables (docs/consent.md). This reads every
 * source file of the product (app/ and migrations/) and fails on any insert, update, delete,
 * merge, truncate or copy into channel_consent, topic_consent or consent_ledger outside
 * app/consent/, whether through Kysely (`insertInto`, `updateTable`, `deleteFrom`, `mergeInto`,
 * `replaceInto`) or in SQL text (a string or a `sql` template, including `${sql.table("…")}`).
 *
 * It parses the files (TypeScript's parser, no type check), so comments never count and a
 * statement split over several lines still does. What it cannot see: a table name computed at run
 * time (a Kysely call whose table is not a string literal is reported too, so that one gets a
 * reviewer's look). Test fixtures and benchmarks (tests/) seed the tables directly on purpose and
 * are not scanned.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const CONSENT_TABLES = ["channel_consent", "topic_consent", "consent_ledger", "frequency_consent"];

/**
 * Writes outside app/consent/ that change no consent, each with its reason: the migration that
 * adds the chain columns computes them for the rows that existed before it (the same values the
 * insert trigger gives every later row; no column anyone wrote changes).
 */
const ALLOWED = new Set(["migrations/2026-11-29T1601_ledger_chain.ts update consent_ledger"]);
const KYSELY_WRITES = new Set([
  "insertInto",
  "updateTable",
  "deleteFrom",
  "mergeInto",
  "replaceInto",
]);
const SQL_WRITE = new RegExp(
  String.raw`\b(insert\s+into|update|delete\s+from|merge\s+into|truncate(?:\s+table)?|copy)\s+` +
    String.raw`(?:only\s+)?(?:"?public"?\s*\.\s*)?"?(${CONSENT_TABLES.join("|")})"?(?![a-z0-9_])`,
  "i",
);

type Finding = { line: number; what: string };

/** The text of a string or template literal; `${sql.table("x")}`/`${sql.id("x")}` become x. */
function literalText(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (!ts.isTemplateExpression(node)) return null;
  let text = node.head.text;
  for (const span of node.templateSpans) {
    const e = span.expression;
    const named =
      ts.isCallExpression(e) &&
      ts.isPropertyAccessExpression(e.expression) &&
      ["table", "id", "raw"].includes(e.expression.name.text) &&
      e.arguments[0] &&
      ts.isStringLiteral(e.arguments[0])
        ? e.arguments[0].text
        : "?";
    text += named + span.literal.text;
  }
  return text;
}

/** Every write to a consent table in one source file. */
export function consentWrites(fileName: string, source: string): Finding[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: Finding[] = [];
  const at = (node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      KYSELY_WRITES.has(node.expression.name.text)
    ) {
      const method = node.expression.name.text;
      const arg = node.arguments[0];
      const table = arg ? literalText(arg) : null;
      if (table === null) {
        found.push({ line: at(node), what: `${method}(<not a literal>)` });
      } else {
        const name = table
          .trim()
          .split(/\s+as\s+/i)[0]!
          .replace(/^public\./, "");
        if (CONSENT_TABLES.includes(name))
          found.push({ line: at(node), what: `${method}("${name}")` });
      }
    } else {
      const text = literalText(node);
      const m = text === null ? null : SQL_WRITE.exec(text);
      if (m) found.push({ line: at(node), what: `${m[1]!.toLowerCase()} ${m[2]}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((e) => {
    const p = path.join(e.parentPath, e.name);
    return e.isFile() && /\.(ts|tsx|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

describe("the one door for consent", () => {
  it("no file outside app/consent/ writes channel_consent, topic_consent or consent_ledger", () => {
    const files = [...sourceFiles("app"), ...sourceFiles("migrations")];
    expect(files.length).toBeGreaterThan(100);
    const outside = files.filter((f) => !f.startsWith(`app${path.sep}consent${path.sep}`));
    const offenders = outside.flatMap((f) =>
      consentWrites(f, fs.readFileSync(f, "utf8"))
        .filter((w) => !ALLOWED.has(`${f.split(path.sep).join("/")} ${w.what}`))
        .map((w) => `${f}:${w.line} ${w.what}`),
    );
    expect(offenders).toEqual([]);
    // The scan does see the door's own writes (a detector that finds nothing proves nothing).
    const inside = files.filter((f) => f.startsWith(`app${path.sep}consent${path.sep}`));
    expect(
      inside.flatMap((f) => consentWrites(f, fs.readFileSync(f, "utf8"))).length,
    ).toBeGreaterThanOrEqual(6);
  });

  it("finds writes through Kysely and in SQL text, and ignores reads and comments", () => {
    const found = consentWrites(
      "x.ts",
      `
      // update channel_consent set status = 'subscribed'  (a comment: ignored)
      await db.insertInto("channel_consent").values(v).execute();
      await trx.updateTable("topic_consent as tc").set(s).execute();
      await db.deleteFrom("public.consent_ledger").execute();
      await db.insertInto(tableName).values(v).execute();
      await sql\`
        UPDATE  "channel_consent"
        set status = \${status}\`.execute(db);
      await sql\`insert into \${sql.table("consent_ledger")} (channel) values ('sms')\`.execute(db);
      const q = "delete from topic_consent where true";
      await sql\`truncate table consent_ledger\`.execute(db);
      await db.selectFrom("channel_consent").selectAll().execute();
      await sql\`select * from consent_ledger where action = 'update'\`.execute(db);
      await db.insertInto("channel_consent_archive").values(v).execute();
      `,
    );
    expect(found.map((f) => f.what)).toEqual([
      `insertInto("channel_consent")`,
      `updateTable("topic_consent")`,
      `deleteFrom("consent_ledger")`,
      `insertInto(<not a literal>)`,
      "update channel_consent",
      "insert into consent_ledger",
      "delete from topic_consent",
      "truncate table consent_ledger",
    ]);
  });
});
