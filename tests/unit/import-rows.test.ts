import { describe, expect, it, vi } from "vitest";
import { ImportFileError, type SheetRow } from "~/imports/read.server";
import { channelOf, reasonOf, rowBatches, rowsToItems } from "~/imports/rows";
import type { ImportMapping } from "~/imports/schema";

const mapping = (over: Partial<ImportMapping> = {}): ImportMapping => ({
  header: true,
  addressColumn: 0,
  channelColumn: null,
  reasonColumn: null,
  labels: { address: "email", channel: null, reason: null },
  ...over,
});

const row = (line: number, ...cells: string[]): SheetRow => ({ line, cells });

async function* chunks(...parts: SheetRow[][]): AsyncGenerator<SheetRow[]> {
  for (const p of parts) yield p;
}

async function collect(gen: AsyncIterable<SheetRow[]>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of gen) out.push(b.map((r) => r.line));
  return out;
}

describe("an import row's channel and reason", () => {
  it("reads channel names and common aliases in any case, and nothing else", () => {
    expect(
      ["EMAIL", " e-mail ", "Mail", "sms", "Text", "mobile", "WhatsApp", "wa"].map(channelOf),
    ).toEqual(["email", "email", "email", "sms", "sms", "sms", "whatsapp", "whatsapp"]);
    expect(channelOf("fax")).toBeNull();
    expect(channelOf("")).toBeNull();
    expect(channelOf(undefined)).toBeNull();
  });

  it("takes a configured reason code in any case with spaces or dashes, else keeps free text", () => {
    const codes = new Set(["too_frequent", "never_signed_up"]);
    expect(reasonOf("Too Frequent", codes)).toEqual({
      reasonCode: "too_frequent",
      reasonText: null,
    });
    expect(reasonOf(" never-signed up ", codes)).toEqual({
      reasonCode: "never_signed_up",
      reasonText: null,
    });
    expect(reasonOf("moved abroad", codes)).toEqual({
      reasonCode: null,
      reasonText: "moved abroad",
    });
    expect(reasonOf("  ", codes)).toEqual({ reasonCode: null, reasonText: null });
    expect(reasonOf(undefined, codes)).toEqual({ reasonCode: null, reasonText: null });
  });
});

describe("rowsToItems", () => {
  const reasonCodes = new Set(["too_frequent"]);

  it("gives every row the job's channel, with its line and raw address kept for the error report", () => {
    const r = rowsToItems([row(2, " A@Example.com "), row(3, "not an address"), row(4)], {
      mapping: mapping(),
      channel: "email",
      reasonCodes,
    });
    expect(r.count).toBe(3);
    expect(r.items).toEqual([
      { channel: "email", address: " A@Example.com ", reasonCode: null, reasonText: null },
      { channel: "email", address: "not an address", reasonCode: null, reasonText: null },
      { channel: "email", address: "", reasonCode: null, reasonText: null },
    ]);
    expect(r.itemLines).toEqual([2, 3, 4]);
    expect(r.itemValues).toEqual([" A@Example.com ", "not an address", ""]);
    expect(r.errors).toEqual({ lines: [], values: [], reasons: [] });
  });

  it("reads the channel per row when the job has none, and refuses rows without one", () => {
    const r = rowsToItems(
      [
        row(2, "+48601000001", "SMS", "too frequent"),
        row(3, "a@example.com", "pigeon", "too frequent"),
        row(4, "b@example.com", "email", "spam, all of it"),
        row(5, "c@example.com"),
      ],
      { mapping: mapping({ channelColumn: 1, reasonColumn: 2 }), channel: null, reasonCodes },
    );
    expect(r.items).toEqual([
      { channel: "sms", address: "+48601000001", reasonCode: "too_frequent", reasonText: null },
      {
        channel: "email",
        address: "b@example.com",
        reasonCode: null,
        reasonText: "spam, all of it",
      },
    ]);
    expect(r.itemLines).toEqual([2, 4]);
    expect(r.errors).toEqual({
      lines: [3, 5],
      values: ["pigeon", ""],
      reasons: ["invalid_channel", "invalid_channel"],
    });
    expect(r.count).toBe(4);
  });

  it("keeps at most 256 characters of a bad channel cell", () => {
    const r = rowsToItems([row(2, "a@example.com", "x".repeat(1000))], {
      mapping: mapping({ channelColumn: 1 }),
      channel: null,
      reasonCodes,
    });
    expect(r.errors.values[0]).toHaveLength(256);
  });
});

describe("rowBatches", () => {
  it("skips the header row and groups the rest in batches, across the file's chunks", async () => {
    const batches = rowBatches(chunks([row(1, "h"), row(2), row(3)], [row(4), row(5), row(6)]), {
      header: true,
      skip: 0,
      maxRows: 100,
      batchSize: 2,
    });
    expect(await collect(batches)).toEqual([[2, 3], [4, 5], [6]]);
  });

  it("keeps the first row when there is no header", async () => {
    const batches = rowBatches(chunks([row(1), row(2), row(3)]), {
      header: false,
      skip: 0,
      maxRows: 100,
      batchSize: 10,
    });
    expect(await collect(batches)).toEqual([[1, 2, 3]]);
  });

  it("resumes after the rows a previous run committed, and says so for each chunk skipped whole", async () => {
    const onSkipping = vi.fn(async () => {});
    const batches = rowBatches(
      chunks([row(1, "h"), row(2), row(3)], [row(4), row(5)], [row(6), row(7)]),
      { header: true, skip: 4, maxRows: 100, batchSize: 10, onSkipping },
    );
    expect(await collect(batches)).toEqual([[6, 7]]);
    expect(onSkipping).toHaveBeenCalledTimes(2);
  });

  it("refuses a file with more data rows than allowed, after yielding what came before", async () => {
    const batches = rowBatches(chunks([row(1, "h"), row(2), row(3), row(4)]), {
      header: true,
      skip: 0,
      maxRows: 2,
      batchSize: 1,
    });
    const seen: number[][] = [];
    await expect(
      (async () => {
        for await (const b of batches) seen.push(b.map((r) => r.line));
      })(),
    ).rejects.toThrow(ImportFileError);
    expect(seen).toEqual([[2], [3]]);
  });
});
