// A JavaScript graph: no types to derive schemas from.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ text: Annotation() });

export const graph = new StateGraph(State)
  .addNode("echo", (state) => ({ text: state.text }))
  .addEdge(START, "echo")
  .addEdge("echo", END)
  .compile();
