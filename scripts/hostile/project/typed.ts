// Hostile-suite graph "typed": a TypeScript graph, the control that TypeScript projects still
// load under the sandbox (compiling TypeScript must not need what graph code is denied).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

interface Answer {
  reply: string;
  language: "typescript";
}

const State = Annotation.Root({
  text: Annotation<string>({ reducer: (_a, b) => b, default: () => "" }),
  answer: Annotation<Answer | null>({ reducer: (_a, b) => b, default: () => null }),
});

function answer(state: typeof State.State): { answer: Answer } {
  return { answer: { reply: `You said: ${state.text}`, language: "typescript" } };
}

export const graph = new StateGraph(State).addNode("reply", answer).addEdge(START, "reply").addEdge("reply", END).compile();
