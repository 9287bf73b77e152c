// Benchmark graph "echo": one node that answers the input text. The smallest run a server can do,
// so the benchmark measures the server's own overhead (API, queue, checkpoints), not graph work.
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
