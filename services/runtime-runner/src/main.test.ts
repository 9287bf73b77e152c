import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeRun, json } from "./test-fixtures/run-helpers.js";
import { readyUrl, type SplitRuntime, spawnSplitRuntime } from "./test-fixtures/split-runtime.js";

const CONFIG = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));

let runtime: SplitRuntime;
let url: string;

beforeAll(async () => {
  runtime = await spawnSplitRuntime(CONFIG);
  url = await readyUrl(runtime, 30_000);
});

afterAll(() => {
  if (runtime.child.exitCode === null) runtime.child.kill("SIGKILL");
});

describe("the runtime process (dist/main.js)", () => {
  it("loads every graph, TypeScript included, through plain Node", async () => {
    const client = runtime.client(url);
    const { graphs } = await client.listGraphs({});
    expect(graphs.filter((g) => !g.loaded)).toEqual([]);
    // parent.ts, run without a thread: no data plane is needed.
    const run = await executeRun(client, { graphId: "parent", spec: { inputJson: json({}) } });
    expect(run.values).toEqual({ log: ["before", "inner_a", "inner_b", "after"] });
  });

  it("runs a graph that blocks its event loop without stalling the caller's process", async () => {
    const client = runtime.client(url);
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
    const exited = once(runtime.child, "exit");
    runtime.child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
