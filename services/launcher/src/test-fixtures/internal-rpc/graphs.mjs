// Graphs for the tests of the internal RPC doors (internal-rpc.sdk.test.ts).
import { readFileSync } from "node:fs";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const last = (_a, b) => b;

/** Keeps the `x` it is given: a thread whose state the tests know. */
export const keeper = new StateGraph(Annotation.Root({ x: Annotation({ reducer: last, default: () => "" }) }))
  .addNode("keep", (state) => ({ x: state.x }))
  .addEdge(START, "keep")
  .addEdge("keep", END)
  .compile();

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

/** Runs for `configurable.ticks` tenths of a second (a run that is running while a test probes its fence). */
export async function makeSlow(config) {
  const total = Number(config?.configurable?.ticks ?? 50);
  return new StateGraph(Annotation.Root({ ticks: Annotation({ reducer: last, default: () => 0 }) }))
    .addNode("tick", async (state, nodeConfig) => {
      let ticks = state.ticks;
      for (let i = 0; i < total; i++) {
        await sleep(100, nodeConfig.signal);
        ticks += 1;
      }
      return { ticks };
    })
    .addEdge(START, "tick")
    .addEdge("tick", END)
    .compile();
}

/** Which of the `secrets` it is given the runtime process's environment holds (process.env, or as it started). */
export const probe = new StateGraph(
  Annotation.Root({
    secrets: Annotation({ reducer: last, default: () => [] }),
    found: Annotation({ reducer: last, default: () => [] }),
  }),
)
  .addNode("look", (state) => {
    const env = JSON.stringify(process.env);
    let environ = "";
    try {
      environ = readFileSync("/proc/self/environ", "latin1");
    } catch {
      // Not Linux: process.env is all there is to look at.
    }
    return { found: state.secrets.filter((s) => env.includes(s) || environ.includes(s)) };
  })
  .addEdge(START, "look")
  .addEdge("look", END)
  .compile();
