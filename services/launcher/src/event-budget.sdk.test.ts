import { Client } from "@langchain/langgraph-sdk";
import { createLogger, createRedis, type Redis } from "@langopen/common";
import { EVENT_OVERHEAD_BYTES, EVENTS_DROPPED } from "@langopen/data-plane";
import { type RedisServer, startRedis } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * The event logs keep within their byte budget whatever a run streams, in one process and over
 * Redis: the run still succeeds, a live stream that keeps up gets every event, a later join from
 * the start gets the EventsDropped marker and then the kept tail. A Redis at its maxmemory
 * (noeviction) refuses the appends: the run still ends, with its result in Postgres.
 */
const BUDGET = 1_024;

let redisServer: RedisServer;
let redis: Redis;
let local: TestStack;
let split: TestStack;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = createRedis(redisServer.url, createLogger({ service: "test", level: "silent" }), "event-budget-test");
  const launcher = { eventLogRunBytes: BUDGET };
  [local, split] = await Promise.all([
    startTestStack(TEST_GRAPHS, { redis: false, launcher }),
    startTestStack(TEST_GRAPHS, { redisUrl: redisServer.url, launcher }),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([local?.stop(), split?.stop()]);
  redis?.disconnect();
  await redisServer?.stop();
});

type Chunk = { id?: string; event: string; data: unknown };

async function collect(stream: AsyncIterable<Chunk>, limit = 10_000): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (const chunk of stream) {
    out.push(chunk);
    if (out.length >= limit) break;
  }
  return out;
}

const droppedThrough = (chunk: Chunk | undefined) => {
  const data = chunk?.data as { error?: string; dropped_through?: string } | undefined;
  return chunk?.event === "error" && data?.error === EVENTS_DROPPED ? data.dropped_through : undefined;
};

/** What an event costs in the log: its name, its data as JSON text, the fixed overhead. */
const cost = (chunk: Chunk) => chunk.event.length + JSON.stringify(chunk.data).length + EVENT_OVERHEAD_BYTES;

describe.each([["in one process"], ["over Redis"]])("event log budget %s", (name) => {
  const stack = () => (name === "over Redis" ? split : local);

  it("streams every event live, then replays the marker and the kept tail within the budget", async () => {
    const client = new Client({ apiUrl: stack().url });
    const thread = await client.threads.create();
    // Twenty ticks, 100 ms apart: about twice the budget, slow enough for a live reader to keep up.
    const live = await collect(
      client.runs.stream(thread.thread_id, "slow", {
        input: {},
        config: { configurable: { ticks: 20 } },
        streamMode: ["custom", "values"],
      }) as AsyncIterable<Chunk>,
    );
    const ticks = live.filter((c) => c.event === "custom").map((c) => (c.data as { tick: number }).tick);
    expect(ticks).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(live.some((c) => droppedThrough(c) !== undefined)).toBe(false);
    expect(live.reduce((sum, c) => sum + cost(c), 0)).toBeGreaterThan(BUDGET);

    const runs = await client.runs.list(thread.thread_id);
    expect(runs[0]?.status).toBe("success");
    const runId = runs[0]?.run_id as string;

    const replay = await collect(client.runs.joinStream(thread.thread_id, runId, { lastEventId: "-1" }) as AsyncIterable<Chunk>);
    const through = droppedThrough(replay[0]);
    expect(through).toBeTruthy();
    expect(replay[0]?.id).toBe(through);
    const tail = replay.slice(1);
    // The kept tail is the end of what the live stream saw, and fits the budget.
    const liveIds = live.map((c) => c.id);
    expect(liveIds.slice(-tail.length)).toEqual(tail.map((c) => c.id));
    expect(tail.at(-1)?.event).toBe("end");
    expect(tail.reduce((sum, c) => sum + cost(c), 0)).toBeLessThanOrEqual(BUDGET);
    // Resumed from the marker: the same tail, and no marker.
    const resumed = await collect(
      client.runs.joinStream(thread.thread_id, runId, { lastEventId: through }) as AsyncIterable<Chunk>,
    );
    expect(resumed.map((c) => c.id)).toEqual(tail.map((c) => c.id));
  }, 60_000);

  it("keeps a run that streams far more than the budget successful, its replay bounded", async () => {
    const client = new Client({ apiUrl: stack().url });
    const thread = await client.threads.create();
    const topic = "t".repeat(50_000);
    const created = await client.runs.create(thread.thread_id, "steps", {
      input: { topic },
      streamMode: ["values", "updates", "debug", "custom"],
    });
    const values = (await client.runs.join(thread.thread_id, created.run_id)) as { topic?: string; count?: number };
    expect(values.topic).toBe(topic);
    expect(values.count).toBe(3);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("success");
    const replay = await collect(
      client.runs.joinStream(thread.thread_id, run?.run_id as string, { lastEventId: "-1" }) as AsyncIterable<Chunk>,
    );
    expect(droppedThrough(replay[0])).toBeTruthy();
    // The newest event is always kept: at most the budget plus one event.
    const biggest = Math.max(...replay.slice(1).map(cost));
    expect(replay.slice(1).reduce((sum, c) => sum + cost(c), 0)).toBeLessThanOrEqual(BUDGET + biggest);
    if (name === "over Redis") {
      // The log's own count, kept beside it in the same script that appends.
      const bytes = Number(await redis.hget(`langopen:run:${run?.run_id}:events:meta`, "bytes"));
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThanOrEqual(BUDGET + biggest);
    }
  }, 60_000);
});

describe("a Redis at its maxmemory", () => {
  it("refuses the run's events, and the run still ends with its result", async () => {
    const client = new Client({ apiUrl: split.url });
    const thread = await client.threads.create();
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1]);
    await redis.config("SET", "maxmemory-policy", "noeviction");
    await redis.config("SET", "maxmemory", String((await usedMemory()) + 64 * 1024));
    try {
      // Each event of this run carries 100 kB: the first appends already find Redis full.
      const topic = "o".repeat(100_000);
      const created = await client.runs.create(thread.thread_id, "steps", {
        input: { topic },
        streamMode: ["values", "updates", "debug"],
      });
      const values = (await client.runs.join(thread.thread_id, created.run_id)) as { topic?: string; count?: number };
      expect(values.topic).toBe(topic);
      expect(values.count).toBe(3);
      const [run] = await client.runs.list(thread.thread_id);
      expect(run?.status).toBe("success");
      expect((await client.threads.getState(thread.thread_id)).values).toMatchObject({ count: 3 });
      // A run like this one streams about twenty events; Redis took next to none of them.
      expect(await redis.xlen(`langopen:run:${run?.run_id}:events`)).toBeLessThanOrEqual(5);
    } finally {
      await redis.config("SET", "maxmemory", "0");
    }
    // With room again, runs stream as before.
    const after = await client.runs.wait(thread.thread_id, "steps", { input: { topic: "small" } });
    expect((after as { count?: number }).count).toBe(6);
  }, 60_000);
});
