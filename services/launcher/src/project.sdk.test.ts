import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

const REPO_MODULES = fileURLToPath(new URL("../../../node_modules", import.meta.url));

/**
 * A user's own project in a folder of its own: its package.json, its node_modules (with a
 * package only it has), a TypeScript graph, and its langgraph.json.
 */
async function writeUserProject(dir: string): Promise<string> {
  await mkdir(path.join(dir, "src"), { recursive: true });
  await mkdir(path.join(dir, "node_modules", "greeting-helper"), { recursive: true });
  await writeFile(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "user-agent", private: true, type: "module", dependencies: { "greeting-helper": "1.0.0" } }),
  );
  await writeFile(
    path.join(dir, "node_modules", "greeting-helper", "package.json"),
    JSON.stringify({ name: "greeting-helper", version: "1.0.0", type: "module", exports: "./index.js" }),
  );
  await writeFile(
    path.join(dir, "node_modules", "greeting-helper", "index.js"),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the JavaScript source of a module, with its own template literal.
    "export const greet = (name) => `Greetings, ${name}, from the user's own dependency`;\n",
  );
  // The LangGraph packages the project depends on (linked rather than downloaded again).
  await symlink(path.join(REPO_MODULES, "@langchain"), path.join(dir, "node_modules", "@langchain"), "dir");
  await writeFile(
    path.join(dir, "src", "agent.ts"),
    `import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { greet } from "greeting-helper";

const State = Annotation.Root({ name: Annotation<string>, greeting: Annotation<string> });

export const graph = new StateGraph(State)
  .addNode("greet", (state: typeof State.State) => ({ greeting: greet(state.name) }))
  .addEdge(START, "greet")
  .addEdge("greet", END)
  .compile();
`,
  );
  const config = path.join(dir, "langgraph.json");
  await writeFile(config, JSON.stringify({ graphs: { greeter: "./src/agent.ts:graph" } }));
  return config;
}

describe("a user project in its own folder", () => {
  let dir: string;
  let stack: TestStack;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-user-project-"));
    stack = await startTestStack(await writeUserProject(dir));
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs its TypeScript graph with its own dependencies", async () => {
    const client = new Client({ apiUrl: stack.url });
    const assistant = await client.assistants.get("greeter");
    expect(assistant.graph_id).toBe("greeter");
    const values = await client.runs.wait(null, "greeter", { input: { name: "Ada" } });
    expect(values).toMatchObject({ greeting: "Greetings, Ada, from the user's own dependency" });
  });
});

describe("graph code that blocks its event loop", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack(TEST_GRAPHS);
  }, 90_000);
  afterAll(() => stack?.stop());

  it("cannot stall the API: requests are answered while it runs", async () => {
    const client = new Client({ apiUrl: stack.url });
    const thread = await client.threads.create();
    // Long enough that a loaded machine still answers the requests below within it.
    const run = await client.runs.create(thread.thread_id, "blocking", {
      input: {},
      config: { configurable: { spin_ms: 6_000 } },
    });
    let sawRunning = false;
    // Bounded by count, not by time; the pause keeps a fast API from using up the polls before
    // a loaded machine's worker has claimed the run.
    for (let i = 0; i < 400 && !sawRunning; i++) {
      sawRunning = (await client.runs.get(thread.thread_id, run.run_id)).status === "running";
      if (!sawRunning) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(sawRunning).toBe(true);
    // While the runtime's event loop is blocked, the API still creates and reads threads.
    const other = await client.threads.create({ metadata: { during: "blocking" } });
    expect((await client.threads.get(other.thread_id)).metadata).toEqual({ during: "blocking" });
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("running");
    await client.runs.join(thread.thread_id, run.run_id);
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("success");
  });
});
