import { AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { Command, Send } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { errorBody, plainJsonText, toPlain } from "./plain-json.js";

describe("toPlain", () => {
  it("turns messages into the dicts the SDKs read", () => {
    const values = {
      messages: [
        new SystemMessage({ content: "be brief", id: "s1" }),
        new HumanMessage({ content: "hi", id: "h1", name: "ada" }),
        new AIMessage({ content: "", id: "a1", tool_calls: [{ id: "c1", name: "search", args: { q: "tea" } }] }),
        new ToolMessage({ content: "green", tool_call_id: "c1", id: "t1" }),
      ],
    };
    expect(toPlain(values)).toEqual({
      messages: [
        { type: "system", content: "be brief", id: "s1", name: null, additional_kwargs: {}, response_metadata: {} },
        { type: "human", content: "hi", id: "h1", name: "ada", additional_kwargs: {}, response_metadata: {} },
        {
          type: "ai",
          content: "",
          id: "a1",
          name: null,
          additional_kwargs: {},
          response_metadata: {},
          tool_calls: [{ id: "c1", name: "search", args: { q: "tea" } }],
          invalid_tool_calls: [],
          usage_metadata: null,
        },
        {
          type: "tool",
          content: "green",
          tool_call_id: "c1",
          id: "t1",
          name: null,
          additional_kwargs: {},
          response_metadata: {},
        },
      ],
    });
  });

  it("gives a streamed chunk as an ai message with its tool call chunks", () => {
    const chunk = new AIMessageChunk({ content: "He", id: "run-1" }).concat(new AIMessageChunk({ content: "llo", id: "run-1" }));
    expect(toPlain([chunk, { langgraph_node: "model" }])).toEqual([
      expect.objectContaining({ type: "ai", content: "Hello", id: "run-1", tool_call_chunks: [], tool_calls: [] }),
      { langgraph_node: "model" },
    ]);
  });

  it("keeps JSON-safe values and drops what JSON cannot hold", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const shared = { x: 1 };
    expect(
      toPlain({
        when: new Date("2026-01-02T03:04:05Z"),
        map: new Map([["k", 1]]),
        set: new Set([1, 2]),
        big: 12n,
        nan: Number.NaN,
        fn: () => 1,
        undef: undefined,
        list: [undefined, () => 1, 2],
        cyclic,
        twice: [shared, shared],
      }),
    ).toEqual({
      when: "2026-01-02T03:04:05.000Z",
      map: { k: 1 },
      set: [1, 2],
      big: 12,
      nan: null,
      list: [null, null, 2],
      cyclic: { a: 1 },
      twice: [{ x: 1 }, { x: 1 }],
    });
  });

  it("serialises commands and sends through their JSON form", () => {
    expect(toPlain(new Command({ goto: [new Send("node", { x: 1 })], update: { a: 1 } }))).toMatchObject({
      lg_name: "Command",
      update: { a: 1 },
      goto: [{ lg_name: "Send", node: "node", args: { x: 1 } }],
    });
  });

  it("gives errors as {error, message} with the class name", () => {
    class QuotaError extends Error {}
    expect(errorBody(new QuotaError("over quota"))).toEqual({ error: "QuotaError", message: "over quota" });
    expect(errorBody(new TypeError("bad"))).toEqual({ error: "TypeError", message: "bad" });
    expect(errorBody("plain")).toEqual({ error: "Error", message: "plain" });
    expect(errorBody({ name: "ValueError", message: "from a checkpoint" })).toEqual({
      error: "ValueError",
      message: "from a checkpoint",
    });
    expect(plainJsonText(undefined)).toBe("null");
  });
});
