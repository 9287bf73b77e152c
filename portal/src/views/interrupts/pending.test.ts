import { describe, expect, it } from "vitest";
import { pendingInterrupts, resumeFor } from "./pending";

describe("pendingInterrupts", () => {
  it("lists each task's interrupts with their ids and values", () => {
    const pending = pendingInterrupts({
      task1: [{ id: "i1", value: { question: "Name?" } }],
      task2: [
        { id: "i2", value: "yes?" },
        { value: 3, when: "during" },
      ],
    });
    expect(pending.map(({ taskId, id, value }) => ({ taskId, id, value }))).toEqual([
      { taskId: "task1", id: "i1", value: { question: "Name?" } },
      { taskId: "task2", id: "i2", value: "yes?" },
      { taskId: "task2", id: undefined, value: 3 },
    ]);
  });

  it("answers nothing for no interrupts, and keeps odd records whole", () => {
    expect(pendingInterrupts(undefined)).toEqual([]);
    expect(pendingInterrupts({})).toEqual([]);
    expect(pendingInterrupts({ t: "plain" })).toEqual([{ taskId: "t", value: "plain", raw: "plain" }]);
  });
});

describe("resumeFor", () => {
  const one = pendingInterrupts({ t: [{ id: "i1", value: "q" }] });
  const two = pendingInterrupts({ t: [{ id: "i1", value: "q" }], u: [{ id: "i2", value: "r" }] });

  it("resumes a lone interrupt with the value itself", () => {
    const [only] = one;
    if (!only) throw new Error("fixture");
    expect(resumeFor(one, only, "Ada")).toEqual({ resume: "Ada", interruptIds: ["i1"] });
  });

  it("resumes one of several by its id", () => {
    const second = two[1];
    if (!second) throw new Error("fixture");
    expect(resumeFor(two, second, { ok: true })).toEqual({ resume: { i2: { ok: true } }, interruptIds: ["i2"] });
  });

  it("sends the value alone when interrupts have no ids", () => {
    const pending = pendingInterrupts({ t: [{ value: "q" }] });
    const [only] = pending;
    if (!only) throw new Error("fixture");
    expect(resumeFor(pending, only, 1)).toEqual({ resume: 1, interruptIds: [] });
  });
});
