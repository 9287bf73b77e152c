import { Client } from "@langchain/langgraph-sdk";
import { type PostgresServer, type RedisServer, startPostgres, startRedis, until as untilFor } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * Outages on a Postgres and a Redis of this file's own: the API answers an honest 503 naming
 * what is down, recovers by itself, and runs still start while Redis is away.
 */
let postgres: PostgresServer;
let redis: RedisServer;
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  stack = await startTestStack(TEST_GRAPHS, { postgresUrl: postgres.url, redisUrl: redis.url });
  client = new Client({ apiUrl: stack.url });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

const until = <T>(probe: () => Promise<T | undefined>, what: string) =>
  untilFor(probe, what, { timeoutMs: 30_000, intervalMs: 100, retryErrors: true });

const health = async () => {
  const res = await fetch(`${stack.url}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
};

describe("outages", () => {
  it("reports every dependency on /health", async () => {
    const { status, body } = await until(async () => {
      const h = await health();
      return h.status === 200 ? h : undefined;
    }, "everything to be up");
    expect(status).toBe(200);
    expect(body).toMatchObject({ gateway: "ok", "api-server": "ok", postgres: "ok", redis: "ok" });
  });

  it("answers 503 naming postgres while Postgres is down, and recovers by itself", async () => {
    const restarted = postgres.restart({ downForMs: 4_000 });
    const seen = await until(async () => {
      const res = await fetch(`${stack.url}/threads/search`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      return res.status === 503 ? ((await res.json()) as { detail: string }) : undefined;
    }, "a 503 while Postgres is down");
    expect(seen.detail).toMatch(/postgres/i);
    const down = await until(async () => {
      const h = await health();
      return h.body.postgres === "down" ? h : undefined;
    }, "/health to report postgres down");
    expect(down.status).toBe(503);
    expect(down.body.detail).toMatch(/postgres/);
    await restarted;
    const thread = await until(() => client.threads.create(), "the API to recover");
    expect(thread.thread_id).toBeTruthy();
    await until(async () => ((await health()).status === 200 ? true : undefined), "/health to recover");
  }, 60_000);

  it("still starts and finishes runs while Redis is down, and streams again once it is back", async () => {
    const thread = await client.threads.create();
    const restarted = redis.restart({ downForMs: 5_000 });
    await until(async () => ((await health()).body.redis === "down" ? true : undefined), "/health to report redis down");
    const run = await client.runs.create(thread.thread_id, "echo", {
      input: { messages: [{ role: "human", content: "no redis" }] },
    });
    const done = await until(async () => {
      const r = await client.runs.get(thread.thread_id, run.run_id);
      return r.status === "success" ? r : undefined;
    }, "the run to finish through Postgres polling");
    expect(done.status).toBe("success");
    await restarted;
    const values = await until(
      () => client.runs.wait(thread.thread_id, "echo", { input: { messages: [{ role: "human", content: "redis back" }] } }),
      "runs to stream again",
    );
    expect((values as { messages: Array<{ content: string }> }).messages.at(-1)?.content).toBe("You said: redis back");
  }, 60_000);
});
