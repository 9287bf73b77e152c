// Abuse-suite graph "busy": one node that keeps a CPU busy for `ms` milliseconds without ever
// yielding to the event loop, the worst a graph can do to the runtime process that hosts it.
// Bounded at two minutes so that a mistaken input cannot spin forever.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const MAX_MS = 120_000;

const State = Annotation.Root({
  ms: Annotation({ reducer: (_a, b) => b, default: () => 1_000 }),
  spun_ms: Annotation({ reducer: (_a, b) => b, default: () => 0 }),
});

function spin(state) {
  const ms = Math.min(Math.max(Number(state.ms) || 0, 0), MAX_MS);
  const started = Date.now();
  let sink = 0;
  while (Date.now() - started < ms) {
    for (let i = 0; i < 100_000; i++) sink = (sink + i) % 1_000_003;
  }
  return { spun_ms: Date.now() - started + (sink < 0 ? 1 : 0) };
}

export const graph = new StateGraph(State).addNode("spin", spin).addEdge(START, "spin").addEdge("spin", END).compile();
