import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { Client } from "@langchain/langgraph-sdk";
import { createRpcTransport, runtimeCallerTokenOf } from "@langopen/common";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const FAIR_GRAPHS = fileURLToPath(new URL("./test-fixtures/fair-execution/langgraph.json", import.meta.url));

/** How long the CPU-bound run keeps its process busy while an echo run goes. */
const SPIN_MS = 8_000;
/** The run timeout of the stack (longer than SPIN_MS, so the busy run above ends on its own). */
const RUN_TIMEOUT_SECONDS = 12;
/** Each runtime process's heap limit: the hog graph (up to 512 MB) goes past it, the others stay well under. */
const HEAP_LIMIT_MB = 192;

type Chunk = { event: string; data: unknown };

async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

async function echo(client: Client, text: string): Promise<unknown> {
  const thread = await client.threads.create();
  const values = (await client.runs.wait(thread.thread_id, "echo", { input: { text } })) as { reply?: unknown };
  return values.reply;
}

/** Whether every runtime process of the stack answers (the one a run took down was replaced). */
async function allRuntimesAnswer(stack: TestStack): Promise<boolean> {
  const answers = await Promise.all(
    stack.runtimeUrls.map((url) =>
      createClient(RuntimeService, createRpcTransport(url, { token: runtimeCallerTokenOf(stack.internalSecret) }))
        .listGraphs({}, { timeoutMs: 1_000 })
        .then(
          () => true,
          () => false,
        ),
    ),
  );
  return answers.every(Boolean);
}

/**
 * Times an echo run alone, then starts a CPU-bound run, waits until it runs, and times an echo
 * run on another thread: how long each echo took, and how long the busy run took in all.
 */
async function echoBesideBusyRun(client: Client): Promise<{ aloneMs: number; echoMs: number; busyMs: number }> {
  await echo(client, "warm up");
  const aloneStarted = Date.now();
  await echo(client, "alone");
  const aloneMs = Date.now() - aloneStarted;
  const busyThread = await client.threads.create();
  const busyStarted = Date.now();
  const busy = await client.runs.create(busyThread.thread_id, "spin", { input: { spin_ms: SPIN_MS } });
  await until(
    async () => (await client.runs.get(busyThread.thread_id, busy.run_id)).status === "running",
    "the busy run to start",
    {
      timeoutMs: 30_000,
    },
  );
  // The node starts right after the run does: give it a moment to hold its process.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const echoStarted = Date.now();
  expect(await echo(client, "hi")).toBe("You said: hi");
  const echoMs = Date.now() - echoStarted;
  await client.runs.join(busyThread.thread_id, busy.run_id);
  const busyMs = Date.now() - busyStarted;
  expect((await client.runs.get(busyThread.thread_id, busy.run_id)).status).toBe("success");
  return { aloneMs, echoMs, busyMs };
}

describe("fair execution over a pool of runtime processes", () => {
  let stack: TestStack;
  let client: Client;

  beforeAll(async () => {
    stack = await startTestStack(FAIR_GRAPHS, {
      redis: false,
      launcher: {
        runtimeProcesses: 2,
        runTimeoutSeconds: RUN_TIMEOUT_SECONDS,
        runtimeMaxOldSpaceMb: HEAP_LIMIT_MB,
        runtimeHangGraceMs: 3_000,
      },
    });
    client = new Client({ apiUrl: stack.url });
  }, 120_000);
  afterAll(() => stack?.stop());

  it("runs an echo run beside a CPU-bound run without waiting for it", async () => {
    expect(stack.runtimeUrls).toHaveLength(2);
    const { aloneMs, echoMs, busyMs } = await echoBesideBusyRun(client);
    console.log(
      `fair execution, 2 runtime processes: echo ${echoMs} ms beside a ${SPIN_MS} ms CPU-bound run (${busyMs} ms), ${aloneMs} ms alone`,
    );
    // Generous (the machine is shared): one process alone would make the echo wait most of SPIN_MS.
    expect(echoMs).toBeLessThan(SPIN_MS - 3_000);
  }, 90_000);

  it("ends a run past its time limit `timeout` with a clear message, and its runtime process serves again", async () => {
    const thread = await client.threads.create();
    const started = Date.now();
    // Never yields: only killing its process stops it.
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "spin", {
        input: { spin_ms: 120_000 },
        streamMode: ["values"],
      }) as AsyncIterable<Chunk>,
    );
    const tookMs = Date.now() - started;
    const error = chunks.find((c) => c.event === "error")?.data as { error?: string; message?: string } | undefined;
    expect(error?.error).toBe("TimeoutError");
    expect(error?.message).toContain(`time limit of ${RUN_TIMEOUT_SECONDS} s`);
    expect(tookMs).toBeLessThan(100_000);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("timeout");
    expect((await client.threads.get(thread.thread_id)).status).toBe("error");
    // Meanwhile the other process serves.
    expect(await echo(client, "during")).toBe("You said: during");
    // The stuck process is killed past the timeout and its grace, then replaced.
    await until(() => allRuntimesAnswer(stack), "every runtime process to answer again", { timeoutMs: 60_000, intervalMs: 500 });
    for (let i = 0; i < 4; i++) expect(await echo(client, `after ${i}`)).toBe(`You said: after ${i}`);
  }, 150_000);

  it("ends a run that goes past the heap limit `error` with a clear message, and the next run works", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "hog", { input: {}, streamMode: ["values"] }) as AsyncIterable<Chunk>,
    );
    const error = chunks.find((c) => c.event === "error")?.data as { error?: string; message?: string } | undefined;
    expect(error?.error).toBe("RuntimeOutOfMemory");
    expect(error?.message).toContain(`ran out of memory (heap limit ${HEAP_LIMIT_MB} MB`);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("error");
    await until(() => allRuntimesAnswer(stack), "the runtime process to be replaced", { timeoutMs: 60_000, intervalMs: 500 });
    for (let i = 0; i < 4; i++) expect(await echo(client, `next ${i}`)).toBe(`You said: next ${i}`);
  }, 150_000);
});

// The same attack on one runtime process, for the figures: printed, not asserted.
describe("one runtime process, for comparison", () => {
  let stack: TestStack;
  let client: Client;

  beforeAll(async () => {
    stack = await startTestStack(FAIR_GRAPHS, { redis: false, launcher: { runtimeProcesses: 1 } });
    client = new Client({ apiUrl: stack.url });
  }, 120_000);
  afterAll(() => stack?.stop());

  it("measures the echo run's delay beside a CPU-bound run", async () => {
    expect(stack.runtimeUrls).toHaveLength(1);
    const { aloneMs, echoMs, busyMs } = await echoBesideBusyRun(client);
    console.log(
      `fair execution, 1 runtime process: echo ${echoMs} ms beside a ${SPIN_MS} ms CPU-bound run (${busyMs} ms), ${aloneMs} ms alone`,
    );
  }, 90_000);
});
