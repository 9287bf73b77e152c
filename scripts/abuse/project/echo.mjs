// Abuse-suite graph "echo": answers `text` with `reply` and the last human message with an AI
// message, like the example project's agent. Cheap on purpose: the attacks and the unrelated
// runs measured beside them must cost the server, not the graph.
import { AIMessage } from "@langchain/core/messages";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  ...MessagesAnnotation.spec,
  text: Annotation({ reducer: (_a, b) => b, default: () => "" }),
  reply: Annotation({ reducer: (_a, b) => b, default: () => "" }),
});

function answer(state) {
  const update = {};
  if (state.text) update.reply = `You said: ${state.text}`;
  const last = state.messages.at(-1);
  if (last && last.getType?.() === "human") {
    const text = typeof last.content === "string" ? last.content : JSON.stringify(last.content);
    update.messages = [new AIMessage(`You said: ${text}`)];
  }
  return update;
}

export const graph = new StateGraph(State).addNode("answer", answer).addEdge(START, "answer").addEdge("answer", END).compile();
