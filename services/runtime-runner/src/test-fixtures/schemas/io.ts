// A graph whose input and output differ from its state.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const Input = Annotation.Root({
  question: Annotation<string>,
});

const Output = Annotation.Root({
  answer: Annotation<string>,
});

const State = Annotation.Root({
  question: Annotation<string>,
  answer: Annotation<string>,
  scratch: Annotation<number[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

export const graph = new StateGraph({ input: Input, output: Output, stateSchema: State })
  .addNode("reply", (state: typeof State.State) => ({ answer: `re: ${state.question}`, scratch: [1] }))
  .addEdge(START, "reply")
  .addEdge("reply", END)
  .compile();
