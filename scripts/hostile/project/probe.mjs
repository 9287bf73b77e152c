// Hostile-suite graph "probe": one node that runs the probe named `name` (see probes.mjs) with
// the suite's `ctx` and returns its `{probe, outcome, detail}` as `result`.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { runProbe } from "./probes.mjs";

const State = Annotation.Root({
  name: Annotation({ reducer: (_a, b) => b, default: () => "" }),
  ctx: Annotation({ reducer: (_a, b) => b, default: () => ({}) }),
  result: Annotation({ reducer: (_a, b) => b, default: () => null }),
});

async function probe(state) {
  return { result: await runProbe(state.name, state.ctx ?? {}) };
}

export const graph = new StateGraph(State).addNode("probe", probe).addEdge(START, "probe").addEdge("probe", END).compile();
