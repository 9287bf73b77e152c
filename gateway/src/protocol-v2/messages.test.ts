import { describe, expect, it } from "vitest";
import { chunk, log, messageEvents, RUN, translate } from "../test-fixtures/protocol-v2-log.js";

describe("messages", () => {
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
});
