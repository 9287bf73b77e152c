// Three nodes in a row, for the trace test: one span per node is expected under the run's.
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { Annotation, END, interrupt, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ visited: Annotation({ reducer: (a, b) => [...a, ...b], default: () => [] }) });

export const graph = new StateGraph(State)
  .addNode("first", () => ({ visited: ["first"] }))
  .addNode("second", () => ({ visited: ["second"] }))
  .addNode("third", () => ({ visited: ["third"] }))
  .addEdge(START, "first")
  .addEdge("first", "second")
  .addEdge("second", "third")
  .addEdge("third", END)
  .compile();

/**
 * Ends its runtime process the first time it runs on a thread (after noting so in the store), so
 * that the worker retries the run on another: the trace test follows both attempts.
 */
export const crashOnce = new StateGraph(State)
  .addNode("maybe_crash", async (_state, config) => {
    const key = config.configurable.thread_id;
    if (!(await config.store.get(["crash_once"], key))) {
      await config.store.put(["crash_once"], key, { crashed: true });
      process.exit(1);
    }
    return { visited: ["survived"] };
  })
  .addEdge(START, "maybe_crash")
  .addEdge("maybe_crash", END)
  .compile();

/** A node calling a chat model (LangChain's fake one): its call is a span with the GenAI attributes. */
const model = new FakeListChatModel({ responses: ["hello from the model"] });
export const chat = new StateGraph(MessagesAnnotation)
  .addNode("model", async (state) => ({ messages: [await model.invoke(state.messages)] }))
  .addEdge(START, "model")
  .addEdge("model", END)
  .compile();

/** A node whose subgraph calls the model: its spans nest (outer node, inner node, the model call under the inner). */
const inner = new StateGraph(MessagesAnnotation)
  .addNode("inner", async (state) => ({ messages: [await model.invoke(state.messages)] }))
  .addEdge(START, "inner")
  .addEdge("inner", END)
  .compile();
export const nested = new StateGraph(MessagesAnnotation)
  .addNode("outer", inner)
  .addNode("ask", () => {
    interrupt("continue?");
    return {};
  })
  .addEdge(START, "outer")
  .addEdge("outer", "ask")
  .addEdge("ask", END)
  .compile();
