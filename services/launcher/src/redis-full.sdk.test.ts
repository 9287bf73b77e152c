import { Client } from "@langchain/langgraph-sdk";
import { createLogger, createRedis, type Redis } from "@langopen/common";
import { type RedisServer, startRedis } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * A full Redis never loses a run: with Redis at its maxmemory under `noeviction`, every write that
 * would grow it is refused (event appends, wake-ups, cancel keys), and still runs are created,
 * picked up (workers poll Postgres), run, cancelled and end with their result in Postgres. Only
 * what lives in Redis alone is lost: the events of streams and joins.
 */
let redisServer: RedisServer;
let redis: Redis;
let stack: TestStack;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = createRedis(redisServer.url, createLogger({ service: "test", level: "silent" }), "redis-full-test");
  stack = await startTestStack(TEST_GRAPHS, { redisUrl: redisServer.url });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  redis?.disconnect();
  await redisServer?.stop();
});

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);

/** Redis full from here on: below what it already uses, so that any write that would add to it is refused. */
async function fillRedis(): Promise<void> {
  await redis.config("SET", "maxmemory-policy", "noeviction");
  await redis.config("SET", "maxmemory", String(Math.floor((await usedMemory()) / 2)));
  await expect(redis.lpush("redis-full-test:probe", "1")).rejects.toThrow(/OOM/);
}

type Chunk = { event: string; data: unknown };

describe("a full Redis (maxmemory, noeviction)", () => {
  beforeAll(fillRedis);
  afterAll(async () => {
    await redis.config("SET", "maxmemory", "0");
  });

  it("runs on a thread: created, picked up without a wake-up, ended with their result and state in Postgres", async () => {
    const client = new Client({ apiUrl: stack.url });
    const thread = await client.threads.create();
    const values = (await client.runs.wait(thread.thread_id, "steps", { input: { topic: "full" } })) as { count?: number };
    expect(values.count).toBe(3);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("success");
    expect((await client.threads.getState(thread.thread_id)).values).toMatchObject({ topic: "full", count: 3 });
  }, 60_000);

  it("stateless runs waited for", async () => {
    const client = new Client({ apiUrl: stack.url });
    const values = (await client.runs.wait(null, "echo", {
      input: { messages: [{ type: "human", content: "still here" }] },
    })) as { messages?: Array<{ content?: unknown }> };
    expect(values.messages?.at(-1)?.content).toBe("You said: still here");
  }, 60_000);

  it("a streamed run ends, though its events could not be kept", async () => {
    const client = new Client({ apiUrl: stack.url });
    const thread = await client.threads.create();
    const chunks: Chunk[] = [];
    for await (const chunk of client.runs.stream(thread.thread_id, "steps", {
      input: { topic: "streamed" },
      streamMode: ["values", "updates"],
    }) as AsyncIterable<Chunk>) {
      chunks.push(chunk);
      if (chunks.length > 1_000) break;
    }
    // The stream closes by the run's status; what Redis refused is missing, nothing fails.
    expect(chunks.filter((c) => c.event === "error")).toEqual([]);
    expect(chunks.length).toBeLessThan(1_000);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("success");
    expect((await client.threads.getState(thread.thread_id)).values).toMatchObject({ topic: "streamed", count: 3 });
    expect(await redis.xlen(`langopen:run:${run?.run_id}:events`)).toBe(0);
  }, 60_000);

  it("a running run is cancelled, and one still waiting ends at once", async () => {
    const client = new Client({ apiUrl: stack.url });
    const thread = await client.threads.create();
    // Ten seconds of ticks, unless cancelled; a second run waits behind it on the thread.
    const running = await client.runs.create(thread.thread_id, "slow", { input: {}, config: { configurable: { ticks: 100 } } });
    const waiting = await client.runs.create(thread.thread_id, "echo", {
      input: { messages: [{ type: "human", content: "queued" }] },
      multitaskStrategy: "enqueue",
    });
    const deadline = Date.now() + 20_000;
    while ((await client.runs.get(thread.thread_id, running.run_id)).status !== "running" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await client.runs.get(thread.thread_id, running.run_id)).status).toBe("running");
    await client.runs.cancel(thread.thread_id, waiting.run_id);
    expect((await client.runs.get(thread.thread_id, waiting.run_id)).status).toBe("interrupted");
    await client.runs.cancel(thread.thread_id, running.run_id);
    await client.runs.join(thread.thread_id, running.run_id);
    expect((await client.runs.get(thread.thread_id, running.run_id)).status).toBe("interrupted");
  }, 60_000);

  it("was full all along", async () => {
    await expect(redis.lpush("redis-full-test:probe", "1")).rejects.toThrow(/OOM/);
  });
});

describe("the same Redis with room again", () => {
  it("streams runs' events as before", async () => {
    const client = new Client({ apiUrl: stack.url });
    const thread = await client.threads.create();
    const chunks: Chunk[] = [];
    for await (const chunk of client.runs.stream(thread.thread_id, "steps", {
      input: { topic: "room" },
      streamMode: ["values"],
    }) as AsyncIterable<Chunk>) {
      chunks.push(chunk);
      if (chunks.length > 1_000) break;
    }
    expect(chunks.filter((c) => c.event === "values").length).toBeGreaterThan(0);
  }, 60_000);
});
