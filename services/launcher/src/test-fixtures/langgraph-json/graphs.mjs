// Graphs for the tests of langgraph.json's keys (langgraph-json.sdk.test.ts).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { Client } from "@langchain/langgraph-sdk";
import { getLogger } from "@langchain/langgraph-sdk/logging";

const last = (_a, b) => b;

// At load time, as projects do: this throws where no platform logger is registered.
const logger = getLogger();
logger.info("graphs module loaded", { fixture: "langgraph-json" });

/** The variables the graph sees: those the test names in `names`. */
export const envProbe = new StateGraph(
  Annotation.Root({
    names: Annotation({ reducer: last, default: () => [] }),
    values: Annotation({ reducer: last, default: () => ({}) }),
  }),
)
  .addNode("look", (state) => ({ values: Object.fromEntries(state.names.map((name) => [name, process.env[name] ?? null])) }))
  .addEdge(START, "look")
  .addEdge("look", END)
  .compile();

/** Logs through the SDK's logger inside a node, each way the SDK's interface allows. */
export const logs = new StateGraph(Annotation.Root({ logged: Annotation({ reducer: last, default: () => false }) }))
  .addNode("log", () => {
    const inRun = getLogger();
    inRun.info("a message", { extra: 1 });
    inRun.warn({ message: "an object" });
    inRun.debug("a debug line");
    inRun.error("an error", new Error("boom"));
    return { logged: inRun === logger };
  })
  .addEdge(START, "log")
  .addEdge("log", END)
  .compile();

/** A factory whose node is named by the config it is built with (as upstream's dynamic.mts). */
export const dynamic = async (config) => {
  const node = config.configurable?.nodeName ?? "default";
  const State = Annotation.Root({
    node: Annotation({ reducer: last, default: () => "" }),
    messages: Annotation({ reducer: (a, b) => (Array.isArray(b) ? [...a, ...b] : [...a, b]), default: () => [] }),
  });
  return new StateGraph(State)
    .addNode(node, () => ({ node, messages: [node] }))
    .addEdge(START, node)
    .addEdge(node, END)
    .compile();
};

/** Calls its own server through the SDK's Client made without a URL: it runs env_probe there and tags its thread. */
export const selfCall = new StateGraph(
  Annotation.Root({
    names: Annotation({ reducer: last, default: () => [] }),
    nested: Annotation({ reducer: last, default: () => ({}) }),
  }),
)
  .addNode("call", async (state, config) => {
    const client = new Client();
    const out = await client.runs.wait(null, "env_probe", { input: { names: state.names } });
    await client.threads.update(config.configurable.thread_id, { metadata: { called_by: "self_call" } });
    return { nested: out.values };
  })
  .addEdge(START, "call")
  .addEdge("call", END)
  .compile();
