// Keeps 8 MB arrays (on the V8 heap) until 1 GB at most: past a smaller memory limit its process
// dies; without one the run ends and says how much it held.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ chunks: Annotation });

export const graph = new StateGraph(State)
  .addNode("allocate", () => {
    const kept = [];
    for (let i = 0; i < 128; i++) kept.push(new Array(1_000_000).fill(i + 0.5));
    return { chunks: kept.length };
  })
  .addEdge(START, "allocate")
  .addEdge("allocate", END)
  .compile();
