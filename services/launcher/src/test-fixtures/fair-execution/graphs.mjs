// Graphs for fair execution: one that keeps the CPU busy without yielding, one that answers at
// once, one that allocates until its process's heap limit stops it, one whose answer Postgres
// cannot store (a NUL character, as text read from /proc holds).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  spin_ms: Annotation,
  spins: Annotation,
  text: Annotation,
  reply: Annotation,
  chunks: Annotation,
});

/** Busy for `spin_ms` (never yields to the event loop); at most two minutes. */
export const spin = new StateGraph(State)
  .addNode("busy", (state) => {
    const until = Date.now() + Math.min(Number(state.spin_ms ?? 1_000), 120_000);
    let spins = 0;
    while (Date.now() < until) spins += 1;
    return { spins };
  })
  .addEdge(START, "busy")
  .addEdge("busy", END)
  .compile();

export const echo = new StateGraph(State)
  .addNode("answer", (state) => ({ reply: `You said: ${state.text ?? ""}` }))
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();

/**
 * Keeps 8 MB arrays (on the V8 heap, unlike typed arrays) until 512 MB at most: past a smaller
 * heap limit the process dies; without one the run ends and says how much it held.
 */
export const hog = new StateGraph(State)
  .addNode("allocate", () => {
    const kept = [];
    for (let i = 0; i < 64; i++) kept.push(new Array(1_000_000).fill(i + 0.5));
    return { chunks: kept.length };
  })
  .addEdge(START, "allocate")
  .addEdge("allocate", END)
  .compile();

export const nul = new StateGraph(State)
  .addNode("answer", () => ({ reply: "before\u0000after" }))
  .addEdge(START, "answer")
  .addEdge("answer", END)
  .compile();
