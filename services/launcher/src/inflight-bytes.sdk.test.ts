import { Client } from "@langchain/langgraph-sdk";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * The worker's byte budget for runs in flight (WORKER_MAX_INFLIGHT_INPUT_BYTES): a large input
 * waits in the queue while another large one runs, small runs go beside it, and every run ends.
 */

const BUDGET = 1_000_000;
/** One input fits the budget alone, two do not. */
const PAD = "x".repeat(600_000);

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS, { launcher: { workerMaxInflightInputBytes: BUDGET } });
  client = new Client({ apiUrl: stack.url });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

/** A run of the `slow` graph (100 ms a tick) on a thread of its own. */
async function slowRun(ticks: number, input: Record<string, unknown>) {
  const thread = await client.threads.create();
  const run = await client.runs.create(thread.thread_id, "slow", { input, config: { configurable: { ticks } } });
  return { threadId: thread.thread_id, runId: run.run_id };
}

const statusOf = (run: { threadId: string; runId: string }) => client.runs.get(run.threadId, run.runId).then((r) => r.status);

describe("the worker's byte budget for runs in flight", () => {
  it("keeps a second large input queued while the first runs, lets small runs by, and runs them all", {
    timeout: 90_000,
  }, async () => {
    const first = await slowRun(600, { pad: PAD });
    await until(async () => (await statusOf(first)) === "running", "the first large run to start", {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const second = await slowRun(1, { pad: PAD });
    const small = await slowRun(1, { pad: "small" });
    // The small run starts and ends beside the first large one.
    await until(async () => (await statusOf(small)) === "success", "the small run to end", { timeoutMs: 30_000, intervalMs: 50 });
    const [firstNow, secondNow] = [await statusOf(first), await statusOf(second)];
    expect(firstNow).toBe("running");
    expect(secondNow).toBe("pending");

    // Once the first ends, the second runs.
    await client.runs.cancel(first.threadId, first.runId);
    await client.runs.join(second.threadId, second.runId);
    expect(await statusOf(second)).toBe("success");
    expect(await statusOf(first)).toBe("interrupted");
  });
});
