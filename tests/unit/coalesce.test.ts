/**
 * The group-commit coalescer (app/db/coalesce.server.ts, docs/decisions/0107), deterministically:
 * batches are settled by hand, never by time.
 */
import { describe, expect, it } from "vitest";
import { Coalescer } from "~/db/coalesce.server";

type Pending = { items: number[]; resolve: (o: string[]) => void; reject: (e: unknown) => void };

function harness(maxInFlight = 1, maxBatch = 10) {
  const batches: Pending[] = [];
  const alone: { item: number; resolve: (o: string) => void; reject: (e: unknown) => void }[] = [];
  const c = new Coalescer<number, string>(
    (items) => new Promise((resolve, reject) => batches.push({ items, resolve, reject })),
    (item) => new Promise((resolve, reject) => alone.push({ item, resolve, reject })),
    { maxInFlight, maxBatch },
  );
  return { c, batches, alone };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("Coalescer", () => {
  it("runs a lone item at once, alone", async () => {
    const { c, batches, alone } = harness();
    const p = c.submit(1);
    expect(alone.map((a) => a.item)).toEqual([1]);
    expect(batches).toEqual([]);
    alone[0]!.resolve("one");
    expect(await p).toBe("one");
    await tick();
    expect(c.running).toBe(0);
  });

  it("queues items while a batch is in flight and runs them together next, each with its own result, only after the statement finished", async () => {
    const { c, batches, alone } = harness();
    const first = c.submit(1);
    const rest = [2, 3, 4].map((i) => c.submit(i));
    expect(c.waiting).toBe(3);
    expect(batches).toEqual([]);
    let settled = false;
    void Promise.all(rest).then(() => (settled = true));
    alone[0]!.resolve("r1");
    await first;
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[2, 3, 4]]);
    expect(settled).toBe(false);
    batches[0]!.resolve(["r2", "r3", "r4"]);
    expect(await Promise.all(rest)).toEqual(["r2", "r3", "r4"]);
  });

  it("flushes at once while fewer than maxInFlight batches run, and caps a batch at maxBatch", async () => {
    const { c, batches, alone } = harness(2, 2);
    const ps = [1, 2, 3, 4, 5].map((i) => c.submit(i));
    // Two run at once (alone, as each arrived to an idle slot); the rest wait.
    expect(alone.map((a) => a.item)).toEqual([1, 2]);
    expect(c.waiting).toBe(3);
    alone[0]!.resolve("a");
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[3, 4]]);
    alone[1]!.resolve("b");
    await tick();
    // The last one, alone in its flush.
    expect(alone.map((a) => a.item)).toEqual([1, 2, 5]);
    batches[0]!.resolve(["c", "d"]);
    alone[2]!.resolve("e");
    expect(await Promise.all(ps)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("when a batch fails, runs each of its items alone: the others succeed and the bad one gets its own error", async () => {
    const { c, batches, alone } = harness();
    const first = c.submit(0);
    const ps = [1, 2, 3].map((i) => c.submit(i));
    alone[0]!.resolve("zero");
    await first;
    await tick();
    batches[0]!.reject(new Error("batch failed"));
    await tick();
    expect(alone.slice(1).map((a) => a.item)).toEqual([1, 2, 3]);
    alone[1]!.resolve("one");
    alone[2]!.reject(new Error("bad item 2"));
    alone[3]!.resolve("three");
    const out = await Promise.allSettled(ps);
    expect(out).toEqual([
      { status: "fulfilled", value: "one" },
      { status: "rejected", reason: new Error("bad item 2") },
      { status: "fulfilled", value: "three" },
    ]);
    await tick();
    expect(c.running).toBe(0);
  });
});
