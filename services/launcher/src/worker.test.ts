import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { type ApiServer, startApiServer } from "@langopen/api-server";
import { createLogger, createRedis, createRpcTransport, freePort, jsonBytes, type Redis } from "@langopen/common";
import { createRedisSignals, type Signals } from "@langopen/data-plane";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { type Runtime, startRuntime } from "@langopen/runtime-runner";
import { createTestDatabase, until } from "@langopen/testkit";
import { startWorkerService, type WorkerService } from "@langopen/worker";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const GRAPHS = fileURLToPath(new URL("../../runtime-runner/test-graphs/langgraph.json", import.meta.url));
const logger = createLogger({ service: "test", level: process.env.TEST_LOG_LEVEL === "info" ? "info" : "error" });

let api: ApiServer;
let runtime: Runtime;
let redis: Redis;
let signals: Signals;
let db: pg.Client;
let dbUrl: string;
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  dbUrl = database.url;
  drop = database.drop;
  redis = createRedis(inject("redisUrl"), logger, "test");
  signals = createRedisSignals({ redis, logger, prefix: `test-${Date.now()}` });
  const runtimePort = await freePort();
  api = await startApiServer(
    {
      databaseUrl: dbUrl,
      host: "127.0.0.1",
      port: 0,
      graphIds: ["slow", "echo"],
      signals,
      runtime: createClient(
        (await import("@langopen/gen/langopen/runtime/v1/runtime_service_pb")).RuntimeService,
        createRpcTransport(`http://127.0.0.1:${runtimePort}`),
      ),
    },
    logger,
  );
  runtime = await startRuntime({ configPath: GRAPHS, host: "127.0.0.1", port: runtimePort, apiServerUrl: api.rpc.url }, logger);
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
}, 60_000);

afterAll(async () => {
  await db?.end();
  await runtime?.stop();
  await api?.stop(500);
  await signals?.close();
  redis?.disconnect();
  await drop?.();
});

const worker = (leaseMs = 2_000): WorkerService =>
  startWorkerService(
    { databaseUrl: dbUrl, signals, runtimeUrls: [runtime.rpc.url], leaseMs, pollMs: 100, maxAttempts: 3, concurrency: 4 },
    logger,
  );

async function startSlowRun(ticks: number) {
  const threads = createClient(ThreadService, createRpcTransport(api.rpc.url));
  const runs = createClient(RunService, createRpcTransport(api.rpc.url));
  const { thread } = await threads.createThread({});
  const { run } = await runs.createRun({
    threadId: thread?.threadId,
    spec: { assistantId: "slow", inputJson: jsonBytes({}), config: { configurable: { ticks } } },
  });
  return { threadId: thread?.threadId as string, runId: run?.runId as string, runs };
}

async function runRow(runId: string) {
  const { rows } = await db.query<{ status: string; attempt: number; epoch: string; lease_owner: string | null }>(
    "SELECT status, attempt, epoch::text, lease_owner FROM runs WHERE run_id = $1",
    [runId],
  );
  return rows[0];
}

describe("leases and fencing", () => {
  it("hands running runs back on shutdown without burning an attempt, and another worker finishes them", async () => {
    const a = worker();
    const { runId } = await startSlowRun(30);
    await until(async () => (await runRow(runId))?.status === "running", "the run to start");
    await a.stop(0);
    const handed = await runRow(runId);
    expect(handed?.status).toBe("pending");
    expect(handed?.attempt).toBe(0);
    const b = worker();
    try {
      const done = await until(async () => {
        const row = await runRow(runId);
        return row?.status === "success" ? row : undefined;
      }, "another worker to finish the run");
      expect(done.attempt).toBe(1);
    } finally {
      await b.stop(1_000);
    }
  });

  it("returns a run whose lease expired to the queue, and fences the paused owner's later writes", async () => {
    const a = worker(60_000);
    const { runId } = await startSlowRun(40);
    const first = await until(async () => {
      const row = await runRow(runId);
      return row?.status === "running" ? row : undefined;
    }, "the run to start");
    // The owner is "paused": its lease is made to expire, as if it had stopped heartbeating.
    const { rows } = await db.query<{ at: Date }>(
      "UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1 RETURNING clock_timestamp() AS at",
      [runId],
    );
    const expiredAt = rows[0]?.at;
    const b = worker(2_000);
    try {
      const done = await until(
        async () => {
          const row = await runRow(runId);
          return row?.status === "success" ? row : undefined;
        },
        "the run to be finished by the next owner",
        { timeoutMs: 30_000 },
      );
      expect(BigInt(done.epoch)).toBeGreaterThan(BigInt(first.epoch));
      expect(done.attempt).toBe(2);
      // The old owner kept running until its heartbeat found the lease gone; none of its writes
      // with the stale epoch landed after the takeover, and the new attempt's did.
      const byEpoch = await db.query<{ epoch: string; n: number }>(
        `SELECT epoch::text, count(*)::int AS n FROM checkpoints WHERE run_id = $1 AND created_at > $2 GROUP BY epoch`,
        [runId, expiredAt],
      );
      const counts = Object.fromEntries(byEpoch.rows.map((r) => [r.epoch, r.n]));
      expect(counts[first.epoch] ?? 0).toBe(0);
      expect(counts[done.epoch]).toBeGreaterThan(0);
    } finally {
      await a.stop(500);
      await b.stop(500);
    }
  }, 60_000);

  it("sees a cancel through the heartbeat when its signal was lost", async () => {
    const a = worker(600);
    const { runId } = await startSlowRun(100);
    try {
      await until(async () => (await runRow(runId))?.status === "running", "the run to start");
      // Ask for the cancel in Postgres only, as if the pub/sub message had been lost.
      await db.query("UPDATE runs SET cancel_action = 'interrupt' WHERE run_id = $1", [runId]);
      const row = await until(async () => {
        const r = await runRow(runId);
        return r?.status === "interrupted" ? r : undefined;
      }, "the cancel to arrive");
      expect(row.status).toBe("interrupted");
    } finally {
      await a.stop(500);
    }
  });
});

describe("run webhooks", () => {
  it("sends a run end's webhook at once, not at the dispatcher's next poll", async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      received.push(req.url ?? "");
      req.resume();
      req.on("end", () => res.writeHead(200).end("ok"));
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as AddressInfo).port;
    // Its poll never comes within the test: only the notice of the queued delivery sends it.
    const w = startWorkerService(
      {
        databaseUrl: dbUrl,
        signals,
        runtimeUrls: [runtime.rpc.url],
        pollMs: 100,
        webhooks: { pollMs: 3_600_000, allowedHosts: [`127.0.0.1:${port}`] },
      },
      logger,
    );
    try {
      const threads = createClient(ThreadService, createRpcTransport(api.rpc.url));
      const runs = createClient(RunService, createRpcTransport(api.rpc.url));
      const { thread } = await threads.createThread({});
      const spec = (path: string) => ({
        assistantId: "echo",
        inputJson: jsonBytes({ messages: [{ role: "human", content: "hi" }] }),
        webhook: `http://127.0.0.1:${port}${path}`,
      });
      // A run that keeps its thread, then a stateless one (its temporary thread deleted at its end).
      await runs.createRun({ threadId: thread?.threadId, spec: spec("/kept") });
      await until(async () => received.includes("/kept"), "the webhook of a run on a thread", { timeoutMs: 15_000 });
      await runs.createRun({ threadId: "", spec: spec("/stateless") });
      await until(async () => received.includes("/stateless"), "the webhook of a stateless run", { timeoutMs: 15_000 });
    } finally {
      await w.stop(500);
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  }, 40_000);
});
