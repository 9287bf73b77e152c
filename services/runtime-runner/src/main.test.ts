import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerToken, freePort, generateInternalSecret, runtimeCallerTokenOf, runtimeCredentialsOf } from "@langopen/common";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeRun, json } from "./test-fixtures/run-helpers.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const CONFIG = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));

let child: ChildProcess;
let url: string;
/** The installation's secret its callers send; the runtime gets only what derives from it. */
const SECRET = generateInternalSecret();
const CREDENTIALS = runtimeCredentialsOf(SECRET);

/** Resolves with the url of the runtime once it logs that it is ready. */
function whenReady(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`runtime did not become ready:\n${buffer}`)), 30_000);
    proc.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      for (const line of buffer.split("\n")) {
        if (!line.includes("Runtime is ready")) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    proc.once("exit", (code) => reject(new Error(`runtime exited with ${code}:\n${buffer}`)));
  });
}

beforeAll(async () => {
  child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      LANGOPEN_CONFIG: CONFIG,
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(await freePort()),
      API_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "info",
      LANGOPEN_RUNTIME_TOKEN: CREDENTIALS.token,
      LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: CREDENTIALS.callerTokenSha256,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = await whenReady(child);
});

afterAll(() => {
  if (child.exitCode === null) child.kill("SIGKILL");
});

describe("the runtime process (dist/main.js)", () => {
  it("loads every graph, TypeScript included, through plain Node", async () => {
    const client = createClient(
      RuntimeService,
      createGrpcTransport({ baseUrl: url, interceptors: [bearerToken(runtimeCallerTokenOf(SECRET))] }),
    );
    const { graphs } = await client.listGraphs({});
    expect(graphs.filter((g) => !g.loaded)).toEqual([]);
    // parent.ts, run without a thread: no data plane is needed.
    const run = await executeRun(client, { graphId: "parent", spec: { inputJson: json({}) } });
    expect(run.values).toEqual({ log: ["before", "inner_a", "inner_b", "after"] });
  });

  it("runs a graph that blocks its event loop without stalling the caller's process", async () => {
    const client = createClient(
      RuntimeService,
      createGrpcTransport({ baseUrl: url, interceptors: [bearerToken(runtimeCallerTokenOf(SECRET))] }),
    );
    let last = Date.now();
    let worstGap = 0;
    const ticker = setInterval(() => {
      const now = Date.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 20);
    const started = Date.now();
    const run = await executeRun(client, { graphId: "blocking", spec: { inputJson: json({}) } }).finally(() =>
      clearInterval(ticker),
    );
    expect(run.outcome).toBe("SUCCESS");
    expect((run.values as { spins: number }).spins).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(worstGap).toBeLessThan(500);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
