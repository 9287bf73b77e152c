// Benchmark graph "steps": three nodes in sequence, each appending to a trail, so a streamed run
// yields one update per step. No sleeps: time to the end is the server's cost of three supersteps.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  topic: Annotation({ reducer: (_a, b) => b, default: () => "" }),
  trail: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

export const graph = new StateGraph(State)
  .addNode("first", () => ({ trail: ["first"] }))
  .addNode("second", () => ({ trail: ["second"] }))
  .addNode("third", () => ({ trail: ["third"] }))
  .addEdge(START, "first")
  .addEdge("first", "second")
  .addEdge("second", "third")
  .addEdge("third", END)
  .compile();
