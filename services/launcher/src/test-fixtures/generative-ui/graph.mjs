// A graph that shows a UI component, as generative UI projects write one: typedUi pushes a UI
// message to the `custom` stream and into the state's `ui` key.
import { Annotation, StateGraph } from "@langchain/langgraph";
import { typedUi, uiMessageReducer } from "@langchain/langgraph-sdk/react-ui/server";

const State = Annotation.Root({
  city: Annotation(),
  ui: Annotation({ reducer: uiMessageReducer, default: () => [] }),
});

export const graph = new StateGraph(State)
  .addNode("forecast", (state, config) => {
    typedUi(config).push({ name: "weather-component", props: { city: state.city } });
    return {};
  })
  .addEdge("__start__", "forecast")
  .compile();
