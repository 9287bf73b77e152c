// A parent graph with a subgraph whose state differs from the parent's.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const ChildState = Annotation.Root({
  steps: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  depth: Annotation<number>,
});

const child = new StateGraph(ChildState)
  .addNode("inner", () => ({ steps: ["inner"], depth: 1 }))
  .addEdge(START, "inner")
  .addEdge("inner", END)
  .compile();

const ParentState = Annotation.Root({
  steps: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  title: Annotation<string>,
});

export const graph = new StateGraph(ParentState).addNode("child", child).addEdge(START, "child").addEdge("child", END).compile();
