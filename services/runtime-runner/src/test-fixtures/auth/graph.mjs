// The tiny graph every auth fixture project serves: auth loads next to graphs, never alone.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ count: Annotation({ reducer: (_, next) => next, default: () => 0 }) });

export const graph = new StateGraph(State)
  .addNode("increment", (state) => ({ count: state.count + 1 }))
  .addEdge(START, "increment")
  .addEdge("increment", END)
  .compile();
