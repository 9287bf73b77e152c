// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { interruptibleNodes } from "./graph-json";
import { layoutGraph } from "./graph-layout";

const graph = {
  nodes: [
    { id: "__start__", type: "schema", data: "__start__" },
    { id: "agent", type: "runnable", data: { id: ["x"], name: "agent" } },
    { id: "tools", type: "runnable", data: { id: ["x"], name: "tools" } },
    { id: "__end__", type: "schema", data: "__end__" },
  ],
  edges: [
    { source: "__start__", target: "agent" },
    { source: "agent", target: "tools", conditional: true },
    { source: "agent", target: "__end__", conditional: true, data: "done" },
    { source: "tools", target: "agent" },
  ],
};

describe("layoutGraph", () => {
  it("lays the graph out top to bottom, start and end marked, conditional edges flagged", () => {
    const layout = layoutGraph(graph);
    const byId = Object.fromEntries(layout.nodes.map((node) => [node.id, node]));
    expect(byId.__start__?.kind).toBe("start");
    expect(byId.__end__?.kind).toBe("end");
    expect(byId.agent?.kind).toBe("node");
    expect(byId.__start__?.y).toBeLessThan(byId.agent?.y ?? 0);
    expect(byId.agent?.y).toBeLessThan(byId.__end__?.y ?? 0);
    expect(layout.edges.filter((edge) => edge.conditional)).toHaveLength(2);
    expect(layout.edges.find((edge) => edge.target === "__end__")?.label).toBe("done");
    // tools -> agent goes back up: it is drawn beside the nodes.
    expect(layout.edges.filter((edge) => edge.back).map((edge) => edge.source)).toEqual(["tools"]);
  });

  it("marks subgraphs and groups xray nodes under their subgraph", () => {
    const layout = layoutGraph(
      {
        nodes: [{ id: "child" }, { id: "other:inner" }],
        edges: [{ source: "child", target: "other:inner" }],
      },
      new Set(["child"]),
    );
    expect(layout.nodes.map((node) => [node.id, node.kind, node.label, node.group])).toEqual([
      ["child", "subgraph", "child", undefined],
      ["other:inner", "node", "inner", "other"],
    ]);
  });

  it("draws nothing from a shape it does not know", () => {
    expect(layoutGraph(null)).toEqual({ nodes: [], edges: [] });
    expect(layoutGraph({ nodes: "x" })).toEqual({ nodes: [], edges: [] });
  });

  it("offers the graph's own nodes for interrupts", () => {
    expect(interruptibleNodes(graph)).toEqual(["agent", "tools"]);
  });
});
