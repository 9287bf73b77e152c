// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { applyChatEvent, contentText, EMPTY_TRANSCRIPT, type Transcript, visibleMessages } from "./chat-messages";

function apply(transcript: Transcript, events: Array<{ event: string; data: unknown }>): Transcript {
  return events.reduce((current, event, seq) => applyChatEvent(current, { ...event, seq }), transcript);
}

describe("chat transcript", () => {
  it("streams AI chunks of one message into one bubble", () => {
    const transcript = apply(EMPTY_TRANSCRIPT, [
      { event: "messages", data: [{ type: "AIMessageChunk", id: "m1", content: "Hel" }, {}] },
      { event: "messages", data: [{ type: "AIMessageChunk", id: "m1", content: "lo" }, {}] },
    ]);
    expect(visibleMessages(transcript).map((m) => [m.role, m.text])).toEqual([["ai", "Hello"]]);
  });

  it("shows the message sent until the values hold it, then the values", () => {
    const sent = { id: "pending", role: "human" as const, text: "hi", toolCalls: [] };
    let transcript: Transcript = { base: [], streaming: [], pending: sent };
    expect(visibleMessages(transcript).map((m) => m.text)).toEqual(["hi"]);
    transcript = apply(transcript, [
      { event: "values", data: { messages: [{ type: "human", id: "h1", content: "hi" }] } },
      { event: "messages", data: [{ type: "ai", id: "a1", content: "You said: hi" }, {}] },
    ]);
    expect(visibleMessages(transcript).map((m) => [m.id, m.role])).toEqual([
      ["h1", "human"],
      ["a1", "ai"],
    ]);
    transcript = apply(transcript, [
      {
        event: "values",
        data: {
          messages: [
            { type: "human", id: "h1", content: "hi" },
            { type: "ai", id: "a1", content: "You said: hi" },
          ],
        },
      },
    ]);
    expect(transcript.streaming).toEqual([]);
    expect(visibleMessages(transcript)).toHaveLength(2);
  });

  it("assembles streamed tool calls from their argument chunks", () => {
    const transcript = apply(EMPTY_TRANSCRIPT, [
      {
        event: "messages",
        data: [
          { type: "ai", id: "m", content: "", tool_call_chunks: [{ index: 0, id: "c1", name: "search", args: '{"q": ' }] },
          {},
        ],
      },
      { event: "messages", data: [{ type: "ai", id: "m", content: "", tool_call_chunks: [{ index: 0, args: '"tides"}' }] }, {}] },
    ]);
    expect(visibleMessages(transcript)[0]?.toolCalls).toEqual([{ id: "c1", name: "search", args: { q: "tides" } }]);
  });

  it("ignores subgraph events and reads content parts", () => {
    expect(apply(EMPTY_TRANSCRIPT, [{ event: "messages|child:1", data: [{ type: "ai", id: "x", content: "no" }, {}] }])).toBe(
      EMPTY_TRANSCRIPT,
    );
    expect(contentText([{ type: "text", text: "a" }, { type: "image_url" }, "b"])).toBe("ab");
  });
});
