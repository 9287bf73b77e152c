// Asks a question with interrupt() and records the answer it is resumed with. Its state is a
// zod schema, so its JSON schemas can be read at run time.
import { END, interrupt, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";

const State = z.object({
  question: z.string().optional().describe("What to ask"),
  answer: z.string().optional(),
});

export const graph = new StateGraph(State)
  .addNode("ask", (state) => {
    const answer = interrupt({ question: state.question ?? "What is your name?" });
    return { answer: `Hello, ${answer}` };
  })
  .addEdge(START, "ask")
  .addEdge("ask", END)
  .compile();
