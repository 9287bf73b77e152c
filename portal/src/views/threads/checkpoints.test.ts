import { describe, expect, it } from "vitest";
import { toCheckpoint, writersOf } from "./checkpoints";

const ref = (id: string) => ({ thread_id: "t", checkpoint_ns: "", checkpoint_id: id, checkpoint_map: null });

const input = toCheckpoint({
  values: { count: 0 },
  next: ["__start__"],
  tasks: [{ id: "t0", name: "__start__", error: null, interrupts: [], result: { topic: "x" } }],
  checkpoint: ref("c0"),
  metadata: { step: -1, source: "input" },
  created_at: "2025-01-01T00:00:00Z",
  parent_checkpoint: null,
});
const first = toCheckpoint({
  values: { topic: "x", count: 0 },
  next: ["first"],
  tasks: [{ id: "t1", name: "first", error: null, interrupts: [], result: { count: 1 } }],
  checkpoint: ref("c1"),
  metadata: { step: 0, source: "loop" },
  parent_checkpoint: ref("c0"),
});
const second = toCheckpoint({
  values: { topic: "x", count: 1 },
  next: [],
  tasks: [],
  checkpoint: ref("c2"),
  metadata: { step: 1, source: "loop" },
  parent_checkpoint: ref("c1"),
});

describe("toCheckpoint", () => {
  it("reads a ThreadState JSON", () => {
    expect(first).toMatchObject({
      checkpointId: "c1",
      checkpointNs: "",
      parentId: "c0",
      step: 0,
      source: "loop",
      next: ["first"],
      tasks: [{ id: "t1", name: "first", result: { count: 1 } }],
    });
    expect(input?.parentId).toBeUndefined();
    expect(input?.createdAt).toBe("2025-01-01T00:00:00Z");
  });

  it("refuses states without a checkpoint id", () => {
    expect(toCheckpoint({ values: {} })).toBeUndefined();
    expect(toCheckpoint(null)).toBeUndefined();
    expect(toCheckpoint({ checkpoint: { checkpoint_id: 3 } })).toBeUndefined();
  });

  it("keeps a task without a result apart from one whose result is null", () => {
    const state = toCheckpoint({
      checkpoint: ref("c"),
      tasks: [
        { id: "a", name: "a" },
        { id: "b", name: "b", result: null },
      ],
    });
    expect(state?.tasks.map((task) => "result" in task)).toEqual([false, true]);
  });
});

describe("writersOf", () => {
  it("names the parent's finished tasks as the writers of a loop step", () => {
    if (!first || !second || !input) throw new Error("fixtures");
    expect(writersOf(second, first)).toEqual({ kind: "nodes", nodes: ["first"] });
    expect(writersOf(first, input)).toEqual({ kind: "nodes", nodes: ["__start__"] });
  });

  it("tells input, updates and forks, and prefers recorded writes", () => {
    if (!input || !second) throw new Error("fixtures");
    expect(writersOf(input, undefined)).toEqual({ kind: "input", nodes: [] });
    const update = { ...second, source: "update", metadata: { source: "update", writes: { ask: { a: 1 } } } };
    expect(writersOf(update, undefined)).toEqual({ kind: "update", nodes: ["ask"] });
    const recorded = { ...second, metadata: { source: "loop", writes: { third: {} } } };
    expect(writersOf(recorded, undefined)).toEqual({ kind: "nodes", nodes: ["third"] });
    expect(writersOf({ ...second, source: "fork", metadata: {} }, undefined)).toEqual({ kind: "fork", nodes: [] });
  });

  it("knows no nodes when the parent is not loaded", () => {
    if (!second) throw new Error("fixtures");
    expect(writersOf(second, undefined)).toEqual({ kind: "nodes", nodes: [] });
  });
});
