// A zod state: its schemas come from the schema objects at run time.
import { END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";

const State = z.object({
  topic: z.string().describe("What to write about"),
  words: z.number().optional(),
});

export const graph = new StateGraph(State)
  .addNode("write", (state: z.infer<typeof State>) => ({ words: state.topic.length }))
  .addEdge(START, "write")
  .addEdge("write", END)
  .compile();
