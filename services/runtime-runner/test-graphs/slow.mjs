// Ticks for several seconds in small steps and stops as soon as the run is aborted. Exported as
// an async factory, so the runtime calls it for every run with the run's config.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  ticks: Annotation({ reducer: (_a, b) => b, default: () => 0 }),
});

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error("aborted"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export async function makeGraph(config) {
  const total = Number(config?.configurable?.ticks ?? 50);
  return new StateGraph(State)
    .addNode("tick", async (state, nodeConfig) => {
      let ticks = state.ticks;
      for (let i = 0; i < total; i++) {
        await sleep(100, nodeConfig.signal);
        ticks += 1;
        nodeConfig.writer?.({ tick: ticks });
      }
      return { ticks };
    })
    .addEdge(START, "tick")
    .addEdge("tick", END)
    .compile();
}
