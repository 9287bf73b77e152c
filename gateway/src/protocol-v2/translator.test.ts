import { describe, expect, it } from "vitest";
import { chunk, data, log, messageEvents, RUN, translate } from "../test-fixtures/protocol-v2-log.js";

describe("ProtocolEventTranslator", () => {
  it("numbers every event from 1, the same way on every pass over the same log", () => {
    const entries = log(
      ["metadata", { run_id: RUN, attempt: 1 }],
      ["values", { messages: [] }],
      ["updates", { reply: { messages: [] } }],
      ["end", { run_id: RUN, status: "success" }],
    );
    const first = translate(entries);
    expect(first.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(first.map((e) => e.event_id)).toEqual(["1", "2", "3", "4"]);
    expect(first.every((e) => e.type === "event" && e.params.timestamp === 1000)).toBe(true);
    expect(translate(entries)).toEqual(first);
    expect(first.map((e) => [e.method, e.params.data])).toEqual([
      ["lifecycle", { event: "running", run_id: RUN, attempt: 1 }],
      ["values", { messages: [] }],
      ["updates", { node: "reply", values: { messages: [] } }],
      ["lifecycle", { event: "completed", run_id: RUN }],
    ]);
    expect(first[2]?.params.node).toBe("reply");
  });

  it("turns interrupts into input.requested once, and ends the run interrupted", () => {
    const interrupt = [{ id: "a".repeat(32), value: { question: "Name?" } }];
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["values", { question: "Name?" }],
        ["updates", { __interrupt__: interrupt }],
        ["values", { __interrupt__: interrupt }],
        ["end", { run_id: RUN, status: "success" }],
      ),
    );
    expect(events.map((e) => e.method)).toEqual(["lifecycle", "values", "input.requested", "lifecycle"]);
    expect(data(events, "input.requested")).toEqual([{ interrupt_id: "a".repeat(32), payload: { question: "Name?" } }]);
    expect(events.at(-1)?.params.data).toEqual({ event: "interrupted", run_id: RUN });
  });

  it("makes up stable ids for interrupts without one", () => {
    const events = translate(log(["metadata", { run_id: RUN }], ["values", { __interrupt__: [{ value: 1 }, { value: 2 }] }]));
    expect(data(events, "input.requested")).toEqual([
      { interrupt_id: `${RUN}::0`, payload: 1 },
      { interrupt_id: `${RUN}::1`, payload: 2 },
    ]);
  });

  it.each([
    ["error", "failed"],
    ["timeout", "failed"],
    ["interrupted", "interrupted"],
  ])("ends a run with status %s as %s", (status, event) => {
    const events = translate(log(["metadata", { run_id: RUN }], ["end", { run_id: RUN, status }]));
    expect(events.at(-1)?.params.data).toEqual({ event, run_id: RUN });
  });

  it.each([
    ["no status", {}],
    ["a status it cannot name", { status: "paused" }],
  ])("reads an end with %s as the one fallback status, pending (lifecycle running)", (_, fields) => {
    const events = translate(log(["metadata", { run_id: RUN }], ["end", { run_id: RUN, ...fields }]));
    expect(events.at(-1)?.params.data).toEqual({ event: "running", run_id: RUN });
  });

  it("fails a run at its error event, cutting its open messages, and sends one terminal event", () => {
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages", chunk("Hel")],
        ["error", { error: "ValueError", message: "boom" }],
        ["end", { run_id: RUN, status: "error" }],
      ),
    );
    expect(messageEvents(events).at(-1)).toEqual({ event: "error", message: "boom" });
    expect(data(events, "lifecycle")).toEqual([
      { event: "running", run_id: RUN },
      { event: "failed", run_id: RUN, error: "boom" },
    ]);
  });

  it("announces subgraphs, and ends them with their parent's update or the run", () => {
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["updates|child:1", { inner: { x: 1 } }],
        ["updates|child:1|deep:2", { leaf: { x: 2 } }],
        ["updates", { child: { x: 3 } }],
        ["values|other:3", { y: 1 }],
        ["end", { run_id: RUN, status: "success" }],
      ),
    );
    const lifecycle = events.filter((e) => e.method === "lifecycle").map((e) => [e.params.namespace, e.params.data]);
    expect(lifecycle).toEqual([
      [[], { event: "running", run_id: RUN }],
      [["child:1"], { event: "started", graph_name: "child" }],
      [["child:1", "deep:2"], { event: "started", graph_name: "deep" }],
      [["child:1", "deep:2"], { event: "completed", graph_name: "deep" }],
      [["child:1"], { event: "completed", graph_name: "child" }],
      [["other:3"], { event: "started", graph_name: "other" }],
      [["other:3"], { event: "completed", graph_name: "other" }],
      [[], { event: "completed", run_id: RUN }],
    ]);
  });

  it("shapes the passthrough channels", () => {
    const checkpoint = {
      values: {},
      metadata: { step: 2, source: "loop" },
      checkpoint: { checkpoint_id: "c2" },
      parent_checkpoint: { checkpoint_id: "c1" },
    };
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["custom", { progress: 1 }],
        ["custom", { name: "a2a", payload: { x: 1 } }],
        ["tasks", { id: "t", name: "n" }],
        ["tools", { event: "on_tool_start", toolCallId: "call_1", name: "search", input: { q: 1 } }],
        ["tools", { event: "on_tool_end", toolCallId: "call_1", output: "ok" }],
        ["tools", { event: "on_tool_error", toolCallId: "call_1", error: { message: "bad" } }],
        ["checkpoints", checkpoint],
        ["debug", { anything: true }],
        ["events", { anything: true }],
      ),
    );
    expect(events.slice(1).map((e) => [e.method, e.params.data])).toEqual([
      ["custom", { payload: { progress: 1 } }],
      ["custom", { name: "a2a", payload: { x: 1 } }],
      ["tasks", { id: "t", name: "n" }],
      ["tools", { event: "tool-started", tool_call_id: "call_1", tool_name: "search", input: { q: 1 } }],
      ["tools", { event: "tool-finished", tool_call_id: "call_1", output: "ok" }],
      ["tools", { event: "tool-error", tool_call_id: "call_1", message: "bad" }],
      ["checkpoints", { id: "c2", parent_id: "c1", step: 2, source: "loop" }],
    ]);
  });

  it("translates a log read from part-way through a run", () => {
    const events = translate(log(["values", { a: 1 }], ["end", { run_id: RUN, status: "success" }]));
    expect(events.map((e) => [e.method, e.params.data])).toEqual([
      ["values", { a: 1 }],
      ["lifecycle", { event: "completed", run_id: RUN }],
    ]);
  });
});
