import { describe, expect, it } from "vitest";
import {
  type EventFilter,
  isNamespacePrefix,
  type LogEvent,
  matchesFilter,
  type ProtocolEvent,
  ProtocolEventTranslator,
} from "./protocol-v2-events.js";

const RUN = "run-1";

/** Log entries with ids 1000-0, 1000-1, ... */
function log(...entries: Array<[string, unknown]>): LogEvent[] {
  return entries.map(([event, data], i) => ({ id: `1000-${i}`, event, data }));
}

function translate(entries: LogEvent[]): ProtocolEvent[] {
  const translator = new ProtocolEventTranslator();
  return entries.flatMap((e) => translator.translate(e));
}

const chunk = (content: unknown, extra: Record<string, unknown> = {}) => [
  { type: "ai", id: "m1", content, tool_call_chunks: [], tool_calls: [], response_metadata: {}, ...extra },
  { langgraph_node: "model", ls_provider: "openai", ls_model_name: "gpt" },
];

const data = (events: ProtocolEvent[], method: string) => events.filter((e) => e.method === method).map((e) => e.params.data);
const messageEvents = (events: ProtocolEvent[]) => data(events, "messages") as Array<Record<string, unknown>>;

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

  it("assembles streamed chunks into one message, finished by the node's update", () => {
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages", chunk("Hel")],
        ["messages", chunk("lo")],
        ["updates", { model: { messages: [{ type: "ai", id: "m1", content: "Hello" }] } }],
        ["end", { run_id: RUN, status: "success" }],
      ),
    );
    expect(messageEvents(events)).toEqual([
      { event: "message-start", role: "ai", id: "m1", metadata: { provider: "openai", model: "gpt" } },
      { event: "content-block-start", index: 0, content: { type: "text", text: "" } },
      { event: "content-block-delta", index: 0, delta: { type: "text-delta", text: "Hel" } },
      { event: "content-block-delta", index: 0, delta: { type: "text-delta", text: "lo" } },
      { event: "content-block-finish", index: 0, content: { type: "text", text: "Hello" } },
      { event: "message-finish" },
    ]);
    expect(events.filter((e) => e.method === "messages").every((e) => e.params.node === "model")).toBe(true);
    // The message is finished before the update is sent.
    expect(events.findIndex((e) => e.method === "updates")).toBeGreaterThan(events.findLastIndex((e) => e.method === "messages"));
  });

  it("finishes a message at its finish reason, with its usage, and at the run's end otherwise", () => {
    const usage = { input_tokens: 1, output_tokens: 2, total_tokens: 3 };
    const finished = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages", chunk("Hi", { response_metadata: { finish_reason: "stop" }, usage_metadata: usage })],
      ),
    );
    expect(messageEvents(finished).at(-1)).toEqual({ event: "message-finish", reason: "stop", usage });
    const atEnd = translate(
      log(["metadata", { run_id: RUN }], ["messages", chunk("Hi")], ["end", { run_id: RUN, status: "success" }]),
    );
    expect(messageEvents(atEnd).at(-1)).toEqual({ event: "message-finish" });
    expect(atEnd.at(-1)?.method).toBe("lifecycle");
  });

  it("streams tool calls as their own blocks and finishes them parsed", () => {
    const toolChunk = (args: string, extra: Record<string, unknown> = {}) =>
      chunk("", { tool_call_chunks: [{ index: 0, args, ...extra }] });
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages", chunk("Let me look.")],
        ["messages", toolChunk('{"q":', { id: "call_1", name: "search" })],
        ["messages", toolChunk('"tea"}')],
        ["messages", chunk("", { tool_call_chunks: [{ index: 1, id: "call_2", name: "bad", args: "{nope" }] })],
        ["end", { run_id: RUN, status: "success" }],
      ),
    );
    expect(messageEvents(events).slice(4)).toEqual([
      { event: "content-block-start", index: 1, content: { type: "tool_call_chunk", id: "call_1", name: "search", args: "" } },
      { event: "content-block-delta", index: 1, delta: { type: "tool-call-delta", args: '{"q":' } },
      { event: "content-block-delta", index: 1, delta: { type: "tool-call-delta", args: '"tea"}' } },
      {
        event: "content-block-finish",
        index: 1,
        content: { type: "tool_call", id: "call_1", name: "search", args: { q: "tea" } },
      },
      { event: "content-block-start", index: 2, content: { type: "tool_call_chunk", id: "call_2", name: "bad", args: "" } },
      { event: "content-block-delta", index: 2, delta: { type: "tool-call-delta", args: "{nope" } },
      {
        event: "content-block-finish",
        index: 2,
        content: { type: "invalid_tool_call", id: "call_2", name: "bad", args: "{nope", error: expect.any(String) },
      },
      { event: "message-finish" },
    ]);
    expect(messageEvents(events)[3]).toEqual({
      event: "content-block-finish",
      index: 0,
      content: { type: "text", text: "Let me look." },
    });
  });

  it("sends whole messages (with tool calls) at once, and a node's next message finishes its previous one", () => {
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages", [{ type: "tool", id: "t1", tool_call_id: "call_1", content: "42" }, { langgraph_node: "tools" }]],
        ["messages", chunk("", { id: "m2", tool_calls: [{ id: "call_9", name: "add", args: { a: 1 } }] })],
        ["messages", chunk("next", { id: "m3" })],
      ),
    );
    expect(messageEvents(events)).toEqual([
      { event: "message-start", role: "tool", id: "t1", tool_call_id: "call_1" },
      { event: "content-block-start", index: 0, content: { type: "text", text: "" } },
      { event: "content-block-delta", index: 0, delta: { type: "text-delta", text: "42" } },
      { event: "content-block-finish", index: 0, content: { type: "text", text: "42" } },
      { event: "message-finish" },
      { event: "message-start", role: "ai", id: "m2", metadata: { provider: "openai", model: "gpt" } },
      { event: "content-block-start", index: 0, content: { type: "tool_call_chunk", id: "call_9", name: "add", args: "" } },
      { event: "content-block-delta", index: 0, delta: { type: "tool-call-delta", args: '{"a":1}' } },
      { event: "content-block-finish", index: 0, content: { type: "tool_call", id: "call_9", name: "add", args: { a: 1 } } },
      { event: "message-finish" },
      { event: "message-start", role: "ai", id: "m3", metadata: { provider: "openai", model: "gpt" } },
      { event: "content-block-start", index: 0, content: { type: "text", text: "" } },
      { event: "content-block-delta", index: 0, delta: { type: "text-delta", text: "next" } },
    ]);
  });

  it("reads the legacy messages mode (partial and complete messages)", () => {
    const events = translate(
      log(
        ["metadata", { run_id: RUN }],
        ["messages/metadata", { m1: { metadata: { langgraph_node: "model" } } }],
        ["messages/partial", [{ type: "ai", id: "m1", content: "He" }]],
        ["messages/partial", [{ type: "ai", id: "m1", content: "Hello" }]],
        ["messages/complete", [{ type: "ai", id: "m1", content: "Hello!" }]],
      ),
    );
    expect(messageEvents(events).map((d) => (d.delta as { text?: string } | undefined)?.text ?? d.event)).toEqual([
      "message-start",
      "content-block-start",
      "He",
      "llo",
      "!",
      "content-block-finish",
      "message-finish",
    ]);
    expect(events.filter((e) => e.method === "messages").every((e) => e.params.node === "model")).toBe(true);
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

describe("matchesFilter", () => {
  const event = (method: string, namespace: string[], payload: unknown = {}): ProtocolEvent => ({
    type: "event",
    event_id: "1",
    seq: 1,
    method,
    params: { namespace, timestamp: 0, data: payload },
  });
  const filter = (channels: string[], rest: Partial<EventFilter> = {}): EventFilter => ({ channels: new Set(channels), ...rest });

  it("selects by channel, with input events on `input` and named custom events on `custom` or their own channel", () => {
    expect(matchesFilter(filter(["values"]), event("values", []))).toBe(true);
    expect(matchesFilter(filter(["values"]), event("updates", []))).toBe(false);
    expect(matchesFilter(filter(["input"]), event("input.requested", []))).toBe(true);
    const named = event("custom", [], { name: "a2a", payload: 1 });
    expect(matchesFilter(filter(["custom"]), named)).toBe(true);
    expect(matchesFilter(filter(["custom:a2a"]), named)).toBe(true);
    expect(matchesFilter(filter(["custom:other"]), named)).toBe(false);
    expect(matchesFilter(filter(["custom:a2a"]), event("custom", [], { payload: 1 }))).toBe(false);
  });

  it("selects by namespace prefix (task ids optional) and depth", () => {
    const deep = event("values", ["child:1", "inner:2"]);
    expect(matchesFilter(filter(["values"]), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { depth: 1 }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { depth: 2 }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]] }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]], depth: 0 }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { namespaces: [["child:9"]] }), deep)).toBe(false);
    expect(matchesFilter(filter(["values"], { namespaces: [["other"], ["child:1", "inner"]], depth: 0 }), deep)).toBe(true);
    expect(matchesFilter(filter(["values"], { namespaces: [["child"]] }), event("values", []))).toBe(false);
    expect(isNamespacePrefix(["a:1"], [])).toBe(true);
  });
});
