import { describe, expect, it } from "vitest";
import { EventEncoder } from "./stream-translator.js";

const decoder = new TextDecoder();
const big = (fill: string) => `é✓ "quoted" \\ ${fill.repeat(70_000)} 😀\n\u0000 ✓é`;

describe("EventEncoder", () => {
  it("gives exactly JSON.stringify's bytes, big strings or not, wherever they are", () => {
    const message = big("x");
    const answer = big("y");
    const samples: unknown[] = [
      null,
      "small",
      message,
      { messages: [{ type: "human", content: message }] },
      { agent: { messages: [{ type: "ai", content: answer, skipped: undefined }] } },
      [
        { type: "ai", content: answer },
        { langgraph_node: "agent", tags: [message, "t", answer, message] },
      ],
      JSON.parse(`{"__proto__": "${"p".repeat(70_000)}", "after": 1}`),
      // A user string that looks like a placeholder of another process is left as it is.
      { text: `\u0000${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}:0\u0000`, more: message },
      { nested: [[[{ deep: message }]]], n: 3, ok: true },
    ];
    const encoder = new EventEncoder();
    for (let round = 0; round < 2; round++) {
      for (const data of samples) expect(decoder.decode(encoder.encode(data))).toBe(JSON.stringify(data) ?? "null");
    }
  });

  it("leaves the data it encodes untouched", () => {
    const data = { values: { messages: [{ content: big("z") }] } };
    const before = JSON.stringify(data);
    new EventEncoder().encode(data);
    expect(JSON.stringify(data)).toBe(before);
  });
});
