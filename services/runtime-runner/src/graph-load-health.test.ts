import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerToken, freePort, generateInternalSecret, runtimeCallerTokenOf, runtimeCredentialsOf } from "@langopen/common";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const ECHO = fileURLToPath(new URL("../test-graphs/echo.mjs", import.meta.url));

/** The installation's secret its callers send; the runtime gets only what derives from it. */
const SECRET = generateInternalSecret();
const CREDENTIALS = runtimeCredentialsOf(SECRET);

interface Started {
  child: ChildProcess;
  url: string;
  lines: () => Array<Record<string, unknown>>;
}

/** The runtime on its own (split mode, no launcher and no IPC channel), once it has said how its graphs loaded. */
async function startSplit(configPath: string): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      LANGOPEN_CONFIG: configPath,
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(port),
      API_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "info",
      GRAPH_LOAD_TIMEOUT_MS: "2000",
      LANGOPEN_RUNTIME_TOKEN: CREDENTIALS.token,
      LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: CREDENTIALS.callerTokenSha256,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const lines = () =>
    output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the runtime did not start:\n${output}`)), 30_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (/"msg":"(Runtime is ready|Marked Runtime not serving[^"]*)"/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`the runtime exited with ${code}:\n${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, lines };
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
    const transport = createGrpcTransport({ baseUrl: started.url, interceptors: [bearerToken(runtimeCallerTokenOf(SECRET))] });
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
