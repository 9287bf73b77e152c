import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const FIXTURE = fileURLToPath(new URL("./test-fixtures/langgraph-json/langgraph.json", import.meta.url));
const DOTENV_FIXTURE = fileURLToPath(new URL("./test-fixtures/langgraph-json/langgraph.dotenv.json", import.meta.url));
const GRAPHS = fileURLToPath(new URL("./test-fixtures/langgraph-json/graphs.mjs", import.meta.url));

// Set where LangOpen starts (the runtime inherits it): the deployment's value wins over the project's.
process.env.H2_PRECEDENCE = "from-process";

const NAMES = ["FROM_OBJECT", "FROM_FILE", "QUOTED", "H2_PRECEDENCE", "LANGOPEN_SNEAKY"];

async function envOf(client: Client): Promise<Record<string, string | null>> {
  const out = (await client.runs.wait(null, "env_probe", { input: { names: NAMES } })) as {
    values: Record<string, string | null>;
  };
  return out.values;
}

describe("langgraph.json: env as an object, LANGGRAPH_CONFIG, the SDK's logger, factory graphs", () => {
  let stack: TestStack;
  let client: Client;
  beforeAll(async () => {
    stack = await startTestStack(FIXTURE);
    client = new Client({ apiUrl: stack.url });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("gives the graphs the project's variables, never LangOpen's, and the process's own value wins", async () => {
    expect(await envOf(client)).toEqual({
      FROM_OBJECT: "object-value",
      FROM_FILE: null,
      QUOTED: null,
      H2_PRECEDENCE: "from-process",
      LANGOPEN_SNEAKY: null,
    });
  });

  it("makes the default assistants with LANGGRAPH_CONFIG's config and context", async () => {
    const assistants = await client.assistants.search({ metadata: { created_by: "system" }, limit: 10 });
    const byGraph = Object.fromEntries(assistants.map((a) => [a.graph_id, a]));
    expect(byGraph.env_probe?.config).toMatchObject({ configurable: { model_name: "openai" } });
    expect(byGraph.logs?.context).toEqual({ model: "unknown" });
    expect(byGraph.logs?.config.configurable ?? {}).toEqual({});
    expect(byGraph.dynamic?.config.configurable ?? {}).toEqual({});
  });

  it("lets graph code reach its own server with the SDK's Client() made without a URL", async () => {
    const thread = await client.threads.create();
    const out = (await client.runs.wait(thread.thread_id, "self_call", { input: { names: ["FROM_OBJECT"] } })) as {
      nested: Record<string, string | null>;
    };
    expect(out.nested).toEqual({ FROM_OBJECT: "object-value" });
    expect((await client.threads.get(thread.thread_id)).metadata).toMatchObject({ called_by: "self_call" });
  });

  it("lets a graph use the SDK's getLogger() as it loads and inside a run", async () => {
    const graphs = await fetch(`${stack.url}/ok`);
    expect(graphs.ok).toBe(true);
    const out = (await client.runs.wait(null, "logs", { input: {} })) as { logged: boolean };
    expect(out.logged).toBe(true);
  });

  it("rebuilds a factory graph with the thread's config for state reads and updates", async () => {
    const assistant = await client.assistants.create({ graphId: "dynamic", config: { configurable: { nodeName: "assistant" } } });
    const thread = await client.threads.create({ graphId: "dynamic" });
    const updates: string[] = [];
    for await (const chunk of client.runs.stream(thread.thread_id, assistant.assistant_id, {
      input: { messages: ["input"] },
      streamMode: ["updates"],
    })) {
      if (chunk.event === "updates") updates.push(...Object.keys(chunk.data as object));
    }
    expect(updates).toContain("assistant");
    await client.threads.updateState(thread.thread_id, { values: { messages: "update" }, asNode: "assistant" });
    const state = await client.threads.getState(thread.thread_id);
    expect(state.values).toMatchObject({ messages: ["input", "assistant", "update"] });
    const history = await client.threads.getHistory(thread.thread_id, { limit: 10 });
    expect(history[0]?.values).toMatchObject({ messages: ["input", "assistant", "update"] });
  });
});

describe("langgraph.json: env as a .env file", () => {
  let stack: TestStack;
  let client: Client;
  beforeAll(async () => {
    stack = await startTestStack(DOTENV_FIXTURE);
    client = new Client({ apiUrl: stack.url });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("gives the graphs the file's variables, never LangOpen's, and the process's own value wins", async () => {
    expect(await envOf(client)).toEqual({
      FROM_OBJECT: null,
      FROM_FILE: "file-value",
      QUOTED: "two words",
      H2_PRECEDENCE: "from-process",
      LANGOPEN_SNEAKY: null,
    });
  });
});

describe("langgraph.json: keys that cannot be honoured fail the start", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "langopen-langgraph-json-"));
    await writeFile(path.join(dir, "broken-ui.tsx"), "export default { weather: () => <div>unclosed };\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function project(name: string, extra: Record<string, unknown>): Promise<string> {
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify({ graphs: { env_probe: `${GRAPHS}:envProbe` }, ...extra }));
    return file;
  }

  it.each([
    ["an unknown key", { grahps: {} }, /unknown key "grahps"/],
    ["a missing .env file", { env: "./missing.env" }, /env file "\.\/missing\.env"/],
    [
      "an unsupported setting",
      { store: { index: { dims: 3, embed: "openai:text-embedding-3-small" } } },
      /"store" is not supported/,
    ],
    ["a custom Node.js loader", { node_loader: "./loader.mjs" }, /"node_loader" is not supported/],
    ["malformed LANGGRAPH_CONFIG", { env: { LANGGRAPH_CONFIG: "{not json" } }, /LANGGRAPH_CONFIG is not valid JSON/],
    [
      "a UI file outside the project",
      { ui: { outside: "../elsewhere/ui.tsx" } },
      /"ui.outside" must be a file inside the project/,
    ],
    ["a UI entry that is no path", { ui: { weather: 3 } }, /"ui.weather" must be the path of a file/],
    ["malformed ui_config", { ui_config: { shared: "react" } }, /"ui_config" must be \{"shared"/],
    [
      "a UI component that does not build",
      { ui: { broken: "./broken-ui.tsx" } },
      /failed to bundle the UI components.*broken-ui\.tsx/s,
    ],
  ])("refuses %s, naming it", async (name, extra, message) => {
    const file = await project(name.replaceAll(" ", "-"), extra);
    await expect(startTestStack(file)).rejects.toThrow(message);
  });
});
