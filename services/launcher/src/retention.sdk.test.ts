import { Client } from "@langchain/langgraph-sdk";
import { createLogger } from "@langopen/common";
import { createItemStore, createPool, createThreadStore } from "@langopen/data-plane";
import { type SweeperDeps, sweepOnce } from "@langopen/worker";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

let stack: TestStack;
let client: Client;
let pool: pg.Pool;
let sweeper: SweeperDeps;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  client = new Client({ apiUrl: stack.url });
  const logger = createLogger({ service: "test", level: "silent" });
  pool = createPool({ connectionString: stack.databaseUrl, max: 4, applicationName: "test" }, logger);
  // The sweeper as the worker runs it, called directly rather than waiting for its interval.
  sweeper = { threads: createThreadStore(pool), items: createItemStore(pool), logger };
}, 90_000);
afterAll(async () => {
  await pool?.end();
  await stack?.stop();
});

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });
const lastText = (values: unknown) => (values as { messages?: Array<{ content: unknown }> }).messages?.at(-1)?.content;

/** Moves a thread's TTL clock so that it expired a second ago. */
const expireThread = (threadId: string) =>
  pool.query("UPDATE threads SET expires_at = now() - interval '1 second' WHERE thread_id = $1", [threadId]);

const rowCount = async (sql: string, params: unknown[]) => Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

/** The SDK's TTL type only knows `delete`; the API also takes `keep_latest`. */
const keepLatest = (ttl: number) => ({ ttl, strategy: "keep_latest" as "delete" });

describe("thread TTL", () => {
  it("hides an expired delete-TTL thread at once, and the sweeper deletes it with its runs and checkpoints", async () => {
    const tag = { suite: crypto.randomUUID() };
    const doomed = await client.threads.create({ metadata: tag, ttl: { ttl: 60, strategy: "delete" } });
    const kept = await client.threads.create({ metadata: tag });
    await client.runs.wait(doomed.thread_id, "echo", { input: hi("bye") });
    expect(((await client.threads.get(doomed.thread_id, { include: ["ttl"] })) as { ttl?: unknown }).ttl).toMatchObject({
      strategy: "delete",
      ttl_minutes: 60,
    });
    expect(await client.threads.count({ metadata: tag })).toBe(2);

    await expireThread(doomed.thread_id);
    // Gone for every reader before any sweep.
    expect((await client.threads.search({ metadata: tag })).map((t) => t.thread_id)).toEqual([kept.thread_id]);
    expect(await client.threads.count({ metadata: tag })).toBe(1);
    expect(await statusOf(client.threads.get(doomed.thread_id))).toBe(404);
    expect(await statusOf(client.threads.getState(doomed.thread_id))).toBe(404);
    expect(await statusOf(client.threads.update(doomed.thread_id, { metadata: { x: 1 } }))).toBe(404);
    expect(await statusOf(client.threads.copy(doomed.thread_id))).toBe(404);
    expect(await statusOf(collect(client.threads.joinStream(doomed.thread_id)))).toBe(404);
    // Still in Postgres until the sweeper comes.
    expect(await rowCount("SELECT count(*) AS n FROM checkpoints WHERE thread_id = $1", [doomed.thread_id])).toBeGreaterThan(0);

    await sweepOnce(sweeper);
    for (const table of ["threads", "runs", "checkpoints", "checkpoint_writes"]) {
      expect(await rowCount(`SELECT count(*) AS n FROM ${table} WHERE thread_id = $1`, [doomed.thread_id]), table).toBe(0);
    }
    expect((await client.threads.get(kept.thread_id)).thread_id).toBe(kept.thread_id);
    // Its id is free again.
    const again = await client.threads.create({ threadId: doomed.thread_id });
    expect(again.values ?? null).toBeNull();
  });

  it("lets an expired delete-TTL id be taken again before the sweep", async () => {
    const thread = await client.threads.create({ ttl: 60 });
    await expireThread(thread.thread_id);
    const fresh = await client.threads.create({ threadId: thread.thread_id, metadata: { fresh: true } });
    expect(fresh.metadata).toMatchObject({ fresh: true });
    expect((await client.threads.get(thread.thread_id)).metadata).toMatchObject({ fresh: true });
  });

  it("prunes an expired keep_latest thread to its latest checkpoint, keeps its state and restarts its clock", async () => {
    const thread = await client.threads.create({ ttl: keepLatest(30) });
    await client.runs.wait(thread.thread_id, "echo", { input: hi("one") });
    await client.runs.wait(thread.thread_id, "echo", { input: hi("two") });
    const before = await client.threads.getState(thread.thread_id);
    expect((await client.threads.getHistory(thread.thread_id, { limit: 100 })).length).toBeGreaterThan(1);

    await expireThread(thread.thread_id);
    // keep_latest never hides the thread.
    expect((await client.threads.search({ ids: [thread.thread_id] })).length).toBe(1);
    expect((await client.threads.get(thread.thread_id)).thread_id).toBe(thread.thread_id);

    await sweepOnce(sweeper);
    const history = await client.threads.getHistory(thread.thread_id, { limit: 100 });
    expect(history).toHaveLength(1);
    expect(history[0]?.checkpoint.checkpoint_id).toBe(before.checkpoint.checkpoint_id);
    const after = await client.threads.getState(thread.thread_id);
    expect(after.values).toEqual(before.values);
    expect(lastText(after.values)).toBe("You said: two");
    expect(lastText((await client.threads.get(thread.thread_id)).values)).toBe("You said: two");
    // The clock restarted: expires one TTL from the sweep.
    const ttl = ((await client.threads.get(thread.thread_id, { include: ["ttl"] })) as { ttl?: unknown }).ttl as {
      expires_at: string;
      strategy: string;
    };
    expect(ttl.strategy).toBe("keep_latest");
    const inMinutes = (new Date(ttl.expires_at).getTime() - Date.now()) / 60_000;
    expect(inMinutes).toBeGreaterThan(29);
    expect(inMinutes).toBeLessThanOrEqual(30);
    // The thread still runs on its latest state.
    await client.runs.wait(thread.thread_id, "echo", { input: hi("three") });
    expect((await client.threads.getState<{ messages: unknown[] }>(thread.thread_id)).values.messages).toHaveLength(6);
  });

  it("lets several sweepers run at once without doing the same work twice", async () => {
    const tag = { suite: crypto.randomUUID() };
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await client.threads.create({ metadata: tag, ttl: 60 })).thread_id);
    for (const id of ids) await expireThread(id);
    const results = await Promise.all([1, 2, 3].map(() => sweepOnce({ ...sweeper, batchSize: 2 })));
    expect(results.reduce((n, r) => n + r.deletedThreads, 0)).toBeLessThanOrEqual(ids.length);
    expect(await rowCount("SELECT count(*) AS n FROM threads WHERE thread_id = ANY($1::uuid[])", [ids])).toBe(0);
  });
});

describe("store item TTL", () => {
  it("deletes expired items in the sweep and keeps the others", async () => {
    await client.store.putItem(["sweep"], "short", { v: 1 }, { ttl: 1 });
    await client.store.putItem(["sweep"], "forever", { v: 2 });
    await pool.query("UPDATE store_items SET expires_at = now() - interval '1 second' WHERE key = 'short'");
    expect(await client.store.getItem(["sweep"], "short")).toBeNull();
    expect(await rowCount("SELECT count(*) AS n FROM store_items WHERE key = 'short'", [])).toBe(1);

    await sweepOnce(sweeper);
    expect(await rowCount("SELECT count(*) AS n FROM store_items WHERE key = 'short'", [])).toBe(0);
    expect((await client.store.getItem(["sweep"], "forever"))?.value).toEqual({ v: 2 });
  });

  it("restarts an item's TTL when read with refresh_ttl, and only then", async () => {
    await client.store.putItem(["refresh"], "k", { v: 1 }, { ttl: 10 });
    const expiresIn = async () =>
      (
        await pool.query<{ s: number }>(
          "SELECT extract(epoch FROM expires_at - now())::float8 AS s FROM store_items WHERE key = 'k'",
        )
      ).rows[0]?.s ?? Number.NaN;
    const nearlyDue = () => pool.query("UPDATE store_items SET expires_at = now() + interval '5 seconds' WHERE key = 'k'");

    await nearlyDue();
    expect((await client.store.getItem(["refresh"], "k", { refreshTtl: false }))?.value).toEqual({ v: 1 });
    await client.store.searchItems(["refresh"], { refreshTtl: false });
    expect(await expiresIn()).toBeLessThan(6);

    expect((await client.store.getItem(["refresh"], "k", { refreshTtl: true }))?.value).toEqual({ v: 1 });
    expect(await expiresIn()).toBeGreaterThan(9 * 60);

    await nearlyDue();
    expect((await client.store.searchItems(["refresh"], { refreshTtl: true })).items.map((i) => i.key)).toEqual(["k"]);
    expect(await expiresIn()).toBeGreaterThan(9 * 60);

    // The server's default (refresh on read) applies when the caller does not say.
    await nearlyDue();
    await client.store.getItem(["refresh"], "k");
    expect(await expiresIn()).toBeGreaterThan(9 * 60);
  });
});

async function collect(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}
