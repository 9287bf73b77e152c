import { ConnectError } from "@connectrpc/connect";
import { errorInfo, Reason } from "@langopen/common";
import { describe, expect, it } from "vitest";
import {
  decideResume,
  pendingInterruptIds,
  type ResumeAsk,
  threadAssistant,
  unknownInterrupt,
  waitsOnInterrupt,
} from "./resume.js";

const ID_A = "a".repeat(32);
const ID_B = "b".repeat(32);
const thread = (fields: Partial<Parameters<typeof threadAssistant>[0] & object> = {}) => ({
  status: "idle" as const,
  metadata: {},
  interrupts_text: "{}",
  latest_assistant_id: null,
  ...fields,
});

describe("resume decisions", () => {
  it("reads the interrupts a thread records, by id", () => {
    expect([...pendingInterruptIds(JSON.stringify({ task: [{ id: ID_A, value: 1 }, { value: 2 }], other: "x" }))]).toEqual([
      ID_A,
    ]);
    expect(pendingInterruptIds("not json").size).toBe(0);
  });

  it("tells a thread that waits on an interrupt, by status or (pending) by what it records", () => {
    const recorded = JSON.stringify({ task: [{ id: ID_A }] });
    expect(waitsOnInterrupt(thread({ status: "interrupted" }), "status")).toBe(true);
    expect(waitsOnInterrupt(thread({ status: "busy", interrupts_text: recorded }), "status")).toBe(false);
    expect(waitsOnInterrupt(thread({ status: "busy", interrupts_text: recorded }), "pending")).toBe(true);
    expect(waitsOnInterrupt(thread({ interrupts_text: JSON.stringify({ task: [] }) }), "pending")).toBe(false);
  });

  it("finds the thread's assistant: its latest run's, else its metadata's assistant_id, else graph_id", () => {
    expect(threadAssistant(thread({ latest_assistant_id: "run-a", metadata: { assistant_id: "meta-a" } }))).toBe("run-a");
    expect(threadAssistant(thread({ metadata: { assistant_id: "meta-a", graph_id: "g" } }))).toBe("meta-a");
    expect(threadAssistant(thread({ metadata: { assistant_id: "", graph_id: "g" } }))).toBe("g");
    expect(threadAssistant(thread())).toBeUndefined();
    expect(threadAssistant(undefined)).toBeUndefined();
  });

  it("names the first answered interrupt that is not pending; none when the thread records no ids", () => {
    expect(unknownInterrupt([ID_A, ID_B], new Set([ID_A]))).toBe(ID_B);
    expect(unknownInterrupt([ID_A], new Set([ID_A]))).toBeUndefined();
    expect(unknownInterrupt([ID_B], new Set())).toBeUndefined();
  });
});

describe("decideResume", () => {
  const ask = (fields: Partial<ResumeAsk> = {}): ResumeAsk => ({
    threadId: "t",
    canResume: true,
    resumeOnly: false,
    when: "status",
    interruptIds: [],
    assistant: "agent",
    ...fields,
  });
  const waiting = thread({ status: "interrupted", interrupts_text: JSON.stringify({ task: [{ id: ID_A }] }) });
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return errorInfo(err as ConnectError)?.reason;
    }
    return undefined;
  };

  it("resumes a thread that waits, when it can, and starts afresh otherwise", () => {
    expect(decideResume(waiting, ask())).toEqual({ resumed: true, assistant: "agent" });
    expect(decideResume(waiting, ask({ canResume: false }))).toEqual({ resumed: false, assistant: "agent" });
    expect(decideResume(thread(), ask())).toEqual({ resumed: false, assistant: "agent" });
    expect(decideResume(thread({ latest_assistant_id: "a1" }), ask({ assistant: "" })).assistant).toBe("a1");
  });

  it("refuses in order: no thread, no interrupt (resume only), no assistant, unknown interrupts", () => {
    expect(() => decideResume(undefined, ask())).toThrow(ConnectError);
    expect(reason(() => decideResume(undefined, ask()))).toBe(Reason.NotFound);
    expect(reason(() => decideResume(thread(), ask({ resumeOnly: true, assistant: "" })))).toBe(Reason.ThreadNotInterrupted);
    expect(reason(() => decideResume(waiting, ask({ assistant: "", interruptIds: [ID_B] })))).toBe(Reason.ThreadAssistantUnknown);
    expect(reason(() => decideResume(waiting, ask({ interruptIds: [ID_B] })))).toBe(Reason.InterruptNotPending);
    // A fresh run answers no interrupt: its ids are not checked.
    expect(decideResume(thread(), ask({ interruptIds: [ID_B] })).resumed).toBe(false);
  });
});
