// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { applyProgress, EMPTY_PROGRESS, eventPreview, nodeProgress, settleProgress, splitEventName } from "./run-events";

describe("nodeProgress", () => {
  it("marks a node running when its task starts and done when its result comes", () => {
    const started = nodeProgress([
      { event: "metadata", data: { run_id: "r1" } },
      { event: "tasks", data: { id: "t1", name: "agent", input: {}, triggers: ["__start__"] } },
    ]);
    expect(started.nodes).toEqual({ __start__: "done", agent: "running" });
    const finished = applyProgress(started, {
      event: "tasks",
      data: { id: "t1", name: "agent", result: {}, error: null, interrupts: [] },
    });
    expect(finished.nodes.agent).toBe("done");
    expect(applyProgress(finished, { event: "end", data: null }).nodes.__end__).toBe("done");
  });

  it("keeps a node running while another of its tasks runs", () => {
    const progress = nodeProgress([
      { event: "tasks", data: { id: "a", name: "worker", input: 1, triggers: [] } },
      { event: "tasks", data: { id: "b", name: "worker", input: 2, triggers: [] } },
      { event: "tasks", data: { id: "a", name: "worker", result: {}, error: null, interrupts: [] } },
    ]);
    expect(progress.nodes.worker).toBe("running");
  });

  it("reads failures and interrupts from task results, and never marks the end then", () => {
    const failed = nodeProgress([
      { event: "tasks", data: { id: "t", name: "call", input: {}, triggers: [] } },
      { event: "tasks", data: { id: "t", name: "call", result: {}, error: { message: "boom" }, interrupts: [] } },
      { event: "end", data: null },
    ]);
    expect(failed.nodes).toEqual({ call: "error" });
    const waiting = nodeProgress([
      { event: "tasks", data: { id: "t", name: "ask", input: {}, triggers: [] } },
      { event: "tasks", data: { id: "t", name: "ask", result: {}, error: null, interrupts: [{ value: "ok?" }] } },
      { event: "end", data: null },
    ]);
    expect(waiting.nodes).toEqual({ ask: "interrupted" });
  });

  it("reads debug task events, and names subgraph nodes as xray does", () => {
    const progress = nodeProgress([
      { event: "debug", data: { type: "task", step: 1, payload: { id: "p", name: "child", input: {}, triggers: [] } } },
      {
        event: "debug|child:abc-123",
        data: { type: "task", step: 1, payload: { id: "c", name: "inner", input: {}, triggers: [] } },
      },
      {
        event: "debug|child:abc-123",
        data: { type: "task_result", step: 1, payload: { id: "c", name: "inner", result: {}, interrupts: [] } },
      },
    ]);
    expect(progress.nodes).toEqual({ child: "running", "child:inner": "done" });
  });

  it("falls back to updates when the stream has no task events", () => {
    const progress = nodeProgress([{ event: "updates", data: { respond: { messages: [] } } }]);
    expect(progress.nodes).toEqual({ respond: "done" });
    const withTasks = nodeProgress([
      { event: "tasks", data: { id: "t", name: "a", input: {}, triggers: [] } },
      { event: "updates", data: { b: {} } },
    ]);
    expect(withTasks.nodes.b).toBeUndefined();
  });

  it("does not reach the end when the run stopped with a node running", () => {
    const cancelled = nodeProgress([
      { event: "tasks", data: { id: "t", name: "slow", input: {}, triggers: [] } },
      { event: "end", data: { status: "success" } },
    ]);
    expect(cancelled.nodes.__end__).toBeUndefined();
  });

  it("settles nodes left running when the run stops", () => {
    const running = applyProgress(EMPTY_PROGRESS, { event: "tasks", data: { id: "t", name: "slow", input: {}, triggers: [] } });
    expect(settleProgress(running, "cancelled").nodes.slow).toBe("interrupted");
    expect(settleProgress(running, "error").nodes.slow).toBe("error");
  });
});

describe("events", () => {
  it("splits subgraph event names", () => {
    expect(splitEventName("updates|child:1|grand:2")).toEqual({ mode: "updates", namespace: ["child:1", "grand:2"] });
    expect(splitEventName("messages/partial")).toEqual({ mode: "messages/partial", namespace: [] });
  });

  it("previews events on one line", () => {
    expect(eventPreview("updates", { respond: { n: 1 } })).toBe('respond: {"n":1}');
    expect(eventPreview("messages", [{ type: "ai", content: "Hi" }, { langgraph_node: "agent" }])).toBe('agent: ai "Hi"');
    expect(eventPreview("tasks", { id: "t", name: "agent", input: {}, triggers: [] })).toBe("started agent");
    expect(eventPreview("error", { error: "ValueError", message: "bad" })).toBe("ValueError: bad");
  });
});
