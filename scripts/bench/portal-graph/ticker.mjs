// Benchmark graph "ticker" (scripts/bench/portal.mjs): one node that writes `count` custom stream
// events, `interval_ms` apart, each stamped with the time it was written (`sent_at`, the graph's
// clock, which is the machine's), so that whoever shows them can tell how late they arrive.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  emitted: Annotation({ reducer: (_a, b) => b, default: () => 0 }),
});

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** A setting of the run's config, bounded (the benchmark keeps every run short). */
function setting(config, name, fallback, max) {
  const value = Number(config?.configurable?.[name] ?? fallback);
  return Number.isFinite(value) ? Math.min(max, Math.max(0, Math.round(value))) : fallback;
}

export const graph = new StateGraph(State)
  .addNode("emit", async (_state, config) => {
    const count = setting(config, "count", 100, 2_000);
    const interval = setting(config, "interval_ms", 20, 1_000);
    for (let seq = 1; seq <= count; seq++) {
      await sleep(interval, config.signal);
      config.writer?.({ seq, sent_at: Date.now() });
    }
    return { emitted: count };
  })
  .addEdge(START, "emit")
  .addEdge("emit", END)
  .compile();
