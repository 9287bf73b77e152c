import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { Annotation, MessagesAnnotation, StateGraph } from "@langchain/langgraph";
import { JsonPlusSerializer, MemorySaver } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { plainJsonText, toPlain } from "./plain-json.js";
import { SnapshotSerde } from "./snapshot-serde.js";

const json = new JsonPlusSerializer();
const serde = new SnapshotSerde();

async function throughJson(value: unknown) {
  const [type, bytes] = await json.dumpsTyped(value);
  return json.loadsTyped(type, bytes);
}

async function throughSnapshot(value: unknown) {
  const [type, data] = await serde.dumpsTyped(value);
  return serde.loadsTyped(type, data);
}

const messages = () => [
  new HumanMessage({ content: "hi", id: "h1", name: "ada" }),
  new AIMessage({ content: "", id: "a1", tool_calls: [{ id: "c1", name: "search", args: { q: "tea" } }] }),
  new ToolMessage({ content: "green", tool_call_id: "c1", id: "t1" }),
];

describe("SnapshotSerde", () => {
  it("gives back what the JSON serializer's round trip gives, for plain data and messages", async () => {
    const samples: unknown[] = [
      { messages: messages(), step: 3, nested: { list: [1, "two", null, true, { deep: [] }] } },
      { a: undefined, b: Number.NaN, c: Number.POSITIVE_INFINITY, d: -0, e: () => 1, f: [undefined, () => 1, -0] },
      [],
      "text",
      42,
      null,
      undefined,
      { v: 4, id: "c1", channel_values: { __start__: { messages: [{ role: "human", content: "x".repeat(1_000) }] } } },
    ];
    for (const sample of samples) {
      const viaJson = await throughJson(sample);
      const viaSnapshot = await throughSnapshot(sample);
      expect(viaSnapshot).toEqual(viaJson);
      expect(plainJsonText(viaSnapshot)).toBe(plainJsonText(viaJson));
      expect(toPlain(viaSnapshot)).toEqual(toPlain(viaJson));
    }
  });

  it("leaves what is not plain data to the JSON serializer", async () => {
    const samples: unknown[] = [
      { when: new Date("2026-01-02T03:04:05Z") },
      { set: new Set([1, 2]), map: new Map([["k", 1]]) },
      { bytes: new Uint8Array([1, 2, 3]) },
      { looksSerialized: { lc: 2, type: "undefined" } },
      {
        custom: new (class Point {
          x = 1;
        })(),
      },
      new Uint8Array([4, 5]),
      (() => {
        const cyclic: Record<string, unknown> = { name: "loop" };
        cyclic.self = cyclic;
        return { cyclic };
      })(),
    ];
    for (const sample of samples) {
      const [, data] = await serde.dumpsTyped(sample);
      expect(data).toBeInstanceOf(Uint8Array);
      expect(await throughSnapshot(sample)).toEqual(await throughJson(sample));
    }
  });

  it("keeps a saved value apart from the live one, and every read apart from the others", async () => {
    const live = { messages: messages(), list: [1, 2] };
    const [type, data] = await serde.dumpsTyped(live);
    live.list.push(3);
    live.messages.push(new HumanMessage({ content: "later", id: "h2" }));
    const first = (await serde.loadsTyped(type, data)) as typeof live;
    expect(first.list).toEqual([1, 2]);
    expect(first.messages).toHaveLength(3);
    first.list.push(9);
    const second = (await serde.loadsTyped(type, data)) as typeof live;
    expect(second.list).toEqual([1, 2]);
  });

  it("serves MemorySaver: a graph's state, interrupts and history read back as with JSON", async () => {
    const State = Annotation.Root({ ...MessagesAnnotation.spec, count: Annotation<number>() });
    const build = () =>
      new StateGraph(State)
        .addNode("respond", (state) => ({
          messages: [new AIMessage({ content: `You said: ${state.messages.at(-1)?.content}`, id: "a1" })],
          count: 1,
        }))
        .addNode("after", () => ({ count: 2 }))
        .addEdge("__start__", "respond")
        .addEdge("respond", "after")
        .addEdge("after", "__end__");
    const states = [];
    for (const saver of [new MemorySaver(), new MemorySaver(new SnapshotSerde())]) {
      const graph = build().compile({ checkpointer: saver, interruptBefore: ["after"] });
      const config = { configurable: { thread_id: "t1" } };
      await graph.invoke({ messages: [{ role: "human", content: "hello", id: "h1" }] }, config);
      const state = await graph.getState(config);
      const history = [];
      for await (const snapshot of graph.getStateHistory(config)) history.push(toPlain(snapshot.values));
      states.push({ values: toPlain(state.values), next: state.next, history });
    }
    const [withJson, withSnapshots] = states;
    expect(withSnapshots).toEqual(withJson);
    expect(withSnapshots?.next).toEqual(["after"]);
  });
});
