// An Annotation state (its schema is only in its TypeScript types) with a config annotation.
import type { BaseMessage } from "@langchain/core/messages";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  model_name: Annotation<string>,
  count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
  note: Annotation<string | undefined>,
  history: Annotation<BaseMessage[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

const Config = Annotation.Root({
  model_name: Annotation<string>,
  temperature: Annotation<number>,
});

export const graph = new StateGraph(State, Config)
  .addNode("tally", (state: typeof State.State) => ({ count: state.count + 1, model_name: state.model_name }))
  .addEdge(START, "tally")
  .addEdge("tally", END)
  .compile();
