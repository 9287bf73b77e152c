// Replies to the last message with "You said: <its text>".
import { AIMessage } from "@langchain/core/messages";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

function textOf(message) {
  if (message === undefined) return "";
  return typeof message.content === "string" ? message.content : JSON.stringify(message.content);
}

export const graph = new StateGraph(MessagesAnnotation)
  .addNode("reply", (state) => ({ messages: [new AIMessage(`You said: ${textOf(state.messages.at(-1))}`)] }))
  .addEdge(START, "reply")
  .addEdge("reply", END)
  .compile();
