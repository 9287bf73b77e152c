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
