// Calls a fake streaming chat model, so token streaming can be tested without a provider.
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

export const graph = new StateGraph(MessagesAnnotation)
  .addNode("model", async (state, config) => {
    const model = new FakeListChatModel({ responses: ["Hello from the model"] });
    const reply = await model.invoke(state.messages, config);
    return { messages: [reply] };
  })
  .addEdge(START, "model")
  .addEdge("model", END)
  .compile();
