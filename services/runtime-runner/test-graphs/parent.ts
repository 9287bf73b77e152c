// A graph with a compiled subgraph as one of its nodes. Each node appends to the log itself (the
// channel keeps the last value), so the subgraph's output replaces the log it was given.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  log: Annotation<string[]>({ reducer: (_previous, next) => next, default: () => [] }),
});

type LogState = typeof State.State;
const append = (name: string) => (state: LogState) => ({ log: [...state.log, name] });

const child = new StateGraph(State)
  .addNode("inner_a", append("inner_a"))
  .addNode("inner_b", append("inner_b"))
  .addEdge(START, "inner_a")
  .addEdge("inner_a", "inner_b")
  .addEdge("inner_b", END)
  .compile();

export const graph = new StateGraph(State)
  .addNode("before", append("before"))
  .addNode("child", child)
  .addNode("after", append("after"))
  .addEdge(START, "before")
  .addEdge("before", "child")
  .addEdge("child", "after")
  .addEdge("after", END)
  .compile();
