// A TypeScript graph: its supervisor compiles it before the sandboxed runtime starts.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ text: Annotation<string>(), reply: Annotation<string>() });

export const graph = new StateGraph(State)
  .addNode("answer", (state: typeof State.State) => ({ reply: `You said: ${state.text}` }))
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();
