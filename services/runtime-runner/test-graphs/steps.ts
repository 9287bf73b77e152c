// Three nodes in sequence; the second reports progress through the stream writer, the third
// writes to the store. Exported uncompiled, so the runtime compiles it; written in TypeScript,
// so the runtime loads TypeScript.
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  topic: Annotation<string>,
  trail: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
});

type StepsState = typeof State.State;

// The run's context (when given) labels the first step.
function first(state: StepsState, config: LangGraphRunnableConfig<{ label?: string }>) {
  const label = config.context?.label;
  return { trail: [label ? `first:${label}` : "first"], count: state.count + 1 };
}

function second(state: StepsState, config: LangGraphRunnableConfig) {
  config.writer?.({ progress: "halfway", topic: state.topic });
  return { trail: ["second"], count: state.count + 1 };
}

// Remembers the last count per topic in the long-term store.
async function third(state: StepsState, config: LangGraphRunnableConfig) {
  const count = state.count + 1;
  await config.store?.put(["steps"], state.topic, { count });
  return { trail: ["third"], count };
}

export const graph = new StateGraph(State)
  .addNode("first", first)
  .addNode("second", second)
  .addNode("third", third)
  .addEdge(START, "first")
  .addEdge("first", "second")
  .addEdge("second", "third")
  .addEdge("third", END);
