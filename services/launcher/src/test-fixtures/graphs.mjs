// A one-node graph, enough for the tests of assistants, threads and the store.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ value: Annotation });

export const graph = new StateGraph(State)
  .addNode("keep", (state) => ({ value: state.value ?? null }))
  .addEdge(START, "keep")
  .addEdge("keep", END)
  .compile();
