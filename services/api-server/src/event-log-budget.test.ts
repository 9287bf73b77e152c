import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import {
  createLogger,
  createRedis,
  createRpcTransport,
  freePort,
  generateInternalSecret,
  jsonBytes,
  type Redis,
} from "@langopen/common";
import { EVENT_OVERHEAD_BYTES } from "@langopen/data-plane";
import { MultitaskStrategy, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase, type RedisServer, startRedis, type TestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/**
 * The api-server appends to event logs on its own (the end of a run cancelled before a worker took
 * it). Started as a process of its own, as in split mode, it keeps the logs it appends to within
 * the budgets of its configuration, as the workers do: a budget it did not honour would let a
 * thread's log grow past what the operator set, or (a total larger than the workers') empty logs
 * the workers still keep.
 */
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const GRAPHS = fileURLToPath(new URL("../../runtime-runner/test-graphs/langgraph.json", import.meta.url));
const RUN_BYTES = 1_024;
const TOTAL_BYTES = 4_096;
/** Runs cancelled per thread: their ends are about twice RUN_BYTES in the thread's log. */
const RUNS = 16;

let database: TestDatabase;
let redisServer: RedisServer;
let redis: Redis;
let server: ChildProcess | undefined;
let url: string;
const secret = generateInternalSecret();

beforeAll(async () => {
  [database, redisServer] = await Promise.all([createTestDatabase(inject("databaseUrl")), startRedis()]);
  redis = createRedis(redisServer.url, createLogger({ service: "test", level: "silent" }), "api-budget-test");
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: database.url,
      REDIS_URL: redisServer.url,
      RPC_PORT: String(port),
      LANGOPEN_CONFIG: GRAPHS,
      LANGOPEN_INTERNAL_SECRET: secret,
      LANGOPEN_EVENT_LOG_RUN_BYTES: String(RUN_BYTES),
      LANGOPEN_EVENT_LOG_TOTAL_BYTES: String(TOTAL_BYTES),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the api-server did not serve within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("Started RPC server")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the api-server exited (${code}):\n${output}`));
    });
  });
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server?.once("exit", resolve));
    server.kill("SIGTERM");
    const timer = setTimeout(() => server?.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  redis?.disconnect();
  await Promise.all([database?.drop(), redisServer?.stop()]);
});

/** A log's events as the budget counts them: name, data and the fixed overhead each. */
async function keptBytes(log: string): Promise<{ events: number; bytes: number }> {
  const entries = await redis.xrange(log, "-", "+");
  let bytes = 0;
  for (const [, fields] of entries) {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
    bytes += (f.get("event") ?? "").length + (f.get("data") ?? "").length + EVENT_OVERHEAD_BYTES;
  }
  return { events: entries.length, bytes };
}

describe("the api-server process (split mode) with Redis", () => {
  it("keeps the event logs it appends to within LANGOPEN_EVENT_LOG_RUN_BYTES and _TOTAL_BYTES", async () => {
    const transport = createRpcTransport(url, { token: secret });
    const threads = createClient(ThreadService, transport);
    const runs = createClient(RunService, transport);
    const threadIds: string[] = [];
    for (let t = 0; t < 2; t++) {
      const { thread } = await threads.createThread({});
      const threadId = thread?.threadId as string;
      threadIds.push(threadId);
      for (let i = 0; i < RUNS; i++) {
        // Delayed, with no worker anyway: the cancel ends it in the api-server, which closes its log.
        const { run } = await runs.createRun({
          threadId,
          spec: { assistantId: "echo", inputJson: jsonBytes({ text: `run ${i}` }) },
          multitaskStrategy: MultitaskStrategy.ENQUEUE,
          afterSeconds: 600,
        });
        await runs.cancelRun({ threadId, runId: run?.runId as string });
        expect((await runs.getRun({ threadId, runId: run?.runId as string })).run?.status).toBe(RunStatus.INTERRUPTED);
      }
    }
    for (const threadId of threadIds) {
      const log = `langopen:thread:${threadId}:events`;
      const kept = await keptBytes(log);
      // Every end went through the log, which kept within the run budget (the first thread's may
      // since have been emptied for the total): it holds fewer than all, and marks what it dropped.
      expect(kept.events).toBeLessThan(RUNS);
      expect(kept.bytes).toBeLessThanOrEqual(RUN_BYTES);
      expect(Number(await redis.hget(`${log}:meta`, "bytes"))).toBe(kept.bytes);
      expect(await redis.hget(`${log}:meta`, "dropped")).toBeTruthy();
    }
    // The log appended to last keeps its newest events, as many as fit.
    const last = await keptBytes(`langopen:thread:${threadIds.at(-1)}:events`);
    expect(last.events).toBeGreaterThan(1);
    expect(last.bytes).toBeGreaterThan(RUN_BYTES / 2);
    // Two threads of ends and their runs' logs are about half again the total: the oldest were emptied.
    expect(Number(await redis.hget("langopen:event-logs:sizes", "_total"))).toBeLessThanOrEqual(TOTAL_BYTES);
  }, 60_000);
});
