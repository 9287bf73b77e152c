// Answers with what the server put in the run's configurable about its caller.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ seen: Annotation, input: Annotation });

export const graph = new StateGraph(State)
  .addNode("look", (_state, config) => {
    const c = config.configurable ?? {};
    return {
      seen: {
        user: c.langgraph_auth_user ?? null,
        user_id: c.langgraph_auth_user_id ?? null,
        permissions: c.langgraph_auth_permissions ?? null,
      },
    };
  })
  .addEdge(START, "look")
  .addEdge("look", END)
  .compile();
