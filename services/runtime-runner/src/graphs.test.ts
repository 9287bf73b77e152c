import { fileURLToPath } from "node:url";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, errorInfo, freePort } from "@langopen/common";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "./compose.js";
import { createGraphRegistry, parseGraphSpec } from "./graphs/registry.js";
import { executeRun, json, named } from "./test-fixtures/run-helpers.js";

const BROKEN = fileURLToPath(new URL("../test-graphs/broken/langgraph.json", import.meta.url));
const GOOD = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

describe("parseGraphSpec", () => {
  it("resolves the file against the config folder and defaults the export", () => {
    expect(parseGraphSpec("./src/agent.ts:graph", "/app")).toEqual({ file: "/app/src/agent.ts", exportName: "graph" });
    expect(parseGraphSpec("./agent.mjs", "/app")).toEqual({ file: "/app/agent.mjs", exportName: "default" });
    expect(parseGraphSpec("../g.js:", "/app/x")).toEqual({ file: "/app/g.js", exportName: "default" });
  });
});

describe("graph registry", () => {
  it("loads compiled graphs, StateGraphs, factories and TypeScript files", async () => {
    const graphs = await createGraphRegistry({ configPath: GOOD, logger });
    expect(graphs.list().every((g) => g.loaded)).toBe(true);
    expect(graphs.langgraphVersion).toMatch(/^\d+\.\d+\.\d+/);
    const steps = await graphs.resolve("steps", {});
    expect(typeof steps.getState).toBe("function");
    // A factory builds a new graph for each config.
    const a = await graphs.resolve("slow", { configurable: { ticks: 1 } });
    const b = await graphs.resolve("slow", { configurable: { ticks: 1 } });
    expect(a).not.toBe(b);
  });
});

describe("a langgraph.json with broken graphs", () => {
  let runtime: Runtime;
  let client: ReturnType<typeof createClient<typeof RuntimeService>>;

  beforeAll(async () => {
    // No data plane is needed: nothing here checkpoints.
    const unused = `http://127.0.0.1:${await freePort()}`;
    runtime = await startRuntime(
      { configPath: BROKEN, host: "127.0.0.1", port: 0, apiServerUrl: unused, graphLoadTimeoutMs: 500 },
      logger,
    );
    client = createClient(RuntimeService, createGrpcTransport({ baseUrl: runtime.rpc.url }));
  });
  afterAll(async () => {
    await runtime?.stop(200);
  });

  it("starts anyway and lists each graph's load error", async () => {
    const { graphs } = await client.listGraphs({});
    const byId = Object.fromEntries(graphs.map((g) => [g.graphId, g]));
    expect(byId.echo).toMatchObject({ loaded: true, error: "" });
    expect(byId.factory_fails).toMatchObject({ loaded: true });
    expect(byId.missing_file?.loaded).toBe(false);
    expect(byId.missing_file?.error).toMatch(/^nope\.mjs does not exist in /);
    expect(byId.missing_export?.error).toBe('echo.mjs has no export "nothing" (exports: graph)');
    expect(byId.throws?.error).toBe("cannot reach the model provider");
    expect(byId.hangs?.error).toMatch(/did not finish within 500 ms/);
    expect(byId.not_a_graph?.error).toMatch(/is not a graph: .* got an object \(Object\)/);
  });

  it("fails every RPC on a graph that did not load with FAILED_PRECONDITION naming it", async () => {
    const calls = [
      () => client.describeGraph({ graphId: "throws" }),
      () => client.getSchemas({ graphId: "throws" }),
      () => client.getState({ graphId: "throws", threadId: "t" }),
      () => executeRun(client, { graphId: "throws", spec: { inputJson: json({}) } }),
    ];
    for (const call of calls) {
      const err = (await call().catch((e: unknown) => e)) as ConnectError;
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toBe('Graph "throws" failed to load: cannot reach the model provider');
      expect(errorInfo(err)?.reason).toBe("GRAPH_NOT_LOADED");
      expect(errorInfo(err)?.metadata.graph_id).toBe("throws");
    }
  });

  it("reports a failing factory as the run's error, and as FAILED_PRECONDITION elsewhere", async () => {
    const run = await executeRun(client, { graphId: "factory_fails", spec: { inputJson: json({}) } });
    expect(run.outcome).toBe("ERROR");
    expect(named(run.events, "error")).toEqual([{ error: "Error", message: "missing API key" }]);
    const err = (await client.describeGraph({ graphId: "factory_fails" }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(err)?.reason).toBe("GRAPH_FACTORY_FAILED");
    expect(err.rawMessage).toContain("missing API key");
  });

  it("still runs the graphs that loaded", async () => {
    const run = await executeRun(client, {
      graphId: "echo",
      spec: { inputJson: json({ messages: [{ type: "human", content: "still here" }] }) },
    });
    expect(run.outcome).toBe("SUCCESS");
    expect((run.values as { messages: Array<{ content: string }> }).messages.at(-1)?.content).toBe("You said: still here");
  });
});
