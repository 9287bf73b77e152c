// A node that keeps the CPU busy for about two seconds without yielding to the event loop.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  spins: Annotation({ reducer: (_a, b) => b, default: () => 0 }),
});

export const graph = new StateGraph(State)
  .addNode("spin", (_state, config) => {
    const until = Date.now() + Number(config?.configurable?.spin_ms ?? 2_000);
    let spins = 0;
    while (Date.now() < until) spins += 1;
    return { spins };
  })
  .addEdge(START, "spin")
  .addEdge("spin", END)
  .compile();
