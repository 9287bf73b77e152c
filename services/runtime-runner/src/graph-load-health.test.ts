import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { until } from "@langopen/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type SplitRuntime, spawnSplitRuntime } from "./test-fixtures/split-runtime.js";

const ECHO = fileURLToPath(new URL("../test-graphs/echo.mjs", import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  lines: () => Array<Record<string, unknown>>;
  runtime: SplitRuntime;
}

/** The runtime on its own (split mode, no launcher and no IPC channel), once it has said how its graphs loaded. */
async function startSplit(configPath: string): Promise<Started> {
  const runtime = await spawnSplitRuntime(configPath, { GRAPH_LOAD_TIMEOUT_MS: "2000" });
  const lines = () =>
    runtime
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  await until(
    async () => {
      if (runtime.child.exitCode !== null)
        throw new Error(`the runtime exited with ${runtime.child.exitCode}:\n${runtime.output()}`);
      return /"msg":"(Runtime is ready|Marked Runtime not serving[^"]*)"/.test(runtime.output());
    },
    "the runtime to say how its graphs loaded",
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { child: runtime.child, url: `http://127.0.0.1:${runtime.port}`, lines, runtime };
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const [code] = (await exited) as [number | null];
  return code;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "langopen-graph-load-"));
  // A project with one good graph, two whose files have a syntax error and one whose file is missing.
  await writeFile(path.join(dir, "broken.mjs"), "export const graph = {\n  oops oops\n};\n");
  await writeFile(path.join(dir, "broken.ts"), "const x: number = ;\nexport const graph = x;\n");
  await writeFile(
    path.join(dir, "langgraph.json"),
    JSON.stringify({
      graphs: {
        echo: `${ECHO}:graph`,
        broken: "./broken.mjs:graph",
        broken_ts: "./broken.ts:graph",
        missing: "./missing.mjs:graph",
      },
    }),
  );
  await writeFile(path.join(dir, "good.json"), JSON.stringify({ graphs: { echo: `${ECHO}:graph` } }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("a runtime run on its own whose graphs fail to load", () => {
  let started: Started | undefined;
  afterEach(async () => {
    if (started) await stopChild(started.child);
    started = undefined;
  });

  it("reports NOT_SERVING on its health service and logs each graph, its file and the cause", async () => {
    started = await startSplit(path.join(dir, "langgraph.json"));
    const transport = started.runtime.transport();
    const health = createClient(Health, transport);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await health.check({ service: RuntimeService.typeName })).status).toBe(ServingStatus.NOT_SERVING);

    const summary = started.lines().find((line) => line.msg === "Marked Runtime not serving: graphs failed to load");
    expect(summary?.level).toBe(50);
    const failed = summary?.failed as Array<{ graph_id: string; file: string; cause: string }>;
    expect(failed.map((f) => f.graph_id).sort()).toEqual(["broken", "broken_ts", "missing"]);
    expect(failed.find((f) => f.graph_id === "broken")).toEqual({
      graph_id: "broken",
      file: path.join(dir, "broken.mjs"),
      cause: `SyntaxError: Unexpected identifier 'oops' (${path.join(dir, "broken.mjs")}:2:8)`,
    });
    // TypeScript's compiler says where itself.
    expect(failed.find((f) => f.graph_id === "broken_ts")?.file).toBe(path.join(dir, "broken.ts"));
    expect(failed.find((f) => f.graph_id === "broken_ts")?.cause).toContain(`${path.join(dir, "broken.ts")}:1:18`);
    expect(failed.find((f) => f.graph_id === "missing")).toEqual({
      graph_id: "missing",
      file: path.join(dir, "missing.mjs"),
      cause: `missing.mjs does not exist in ${dir}`,
    });
    expect(started.lines().some((line) => line.msg === "Runtime is ready")).toBe(false);

    // The graphs that loaded stay usable; the one that did not says why.
    const runtime = createClient(RuntimeService, transport);
    const { graphs } = await runtime.listGraphs({});
    expect(graphs.find((g) => g.graphId === "echo")?.loaded).toBe(true);
    expect(graphs.find((g) => g.graphId === "broken")?.error).toContain("SyntaxError: Unexpected identifier 'oops'");
  });

  it("reports SERVING when every graph loaded", async () => {
    started = await startSplit(path.join(dir, "good.json"));
    const health = createClient(Health, createGrpcTransport({ baseUrl: started.url }));
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect(started.lines().some((line) => line.msg === "Runtime is ready")).toBe(true);
  });

  it("still stops on SIGINT when no launcher started it", async () => {
    started = await startSplit(path.join(dir, "good.json"));
    const exited = once(started.child, "exit");
    started.child.kill("SIGINT");
    const [code] = await exited;
    // On failure, the runtime's last lines say why it did not stop cleanly.
    expect(code, JSON.stringify(started.lines().slice(-6), null, 1)).toBe(0);
  });
});
