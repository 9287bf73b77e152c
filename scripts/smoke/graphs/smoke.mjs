// Smoke graph "smoke": five steps of 300 ms each, every one a superstep of its own, so a run lasts
// about 1.5 s and streams a values and an updates event per step: time enough to cancel it, and
// events enough to drop a stream after the first and resume it. A cancel stops it within a step.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const STEPS = 5;
const STEP_MS = 300;

const State = Annotation.Root({
  step: Annotation({ reducer: (_a, b) => b, default: () => 0 }),
  trail: Annotation({ reducer: (a, b) => a.concat(b), default: () => [] }),
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

export const graph = new StateGraph(State)
  .addNode("work", async (state, config) => {
    await sleep(STEP_MS, config.signal);
    return { step: state.step + 1, trail: [`step ${state.step + 1}`] };
  })
  .addEdge(START, "work")
  .addConditionalEdges("work", (state) => (state.step < STEPS ? "work" : END))
  .compile();
