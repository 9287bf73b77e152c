// Hostile-suite graph "echo": an ordinary graph, the control run beside each bomb (it must keep
// answering while a probe eats memory or the CPU of a runtime process).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  text: Annotation({ reducer: (_a, b) => b, default: () => "" }),
  reply: Annotation({ reducer: (_a, b) => b, default: () => "" }),
});

export const graph = new StateGraph(State)
  .addNode("answer", (state) => ({ reply: `You said: ${state.text}` }))
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();
