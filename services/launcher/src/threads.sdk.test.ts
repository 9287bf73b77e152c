import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack();
  client = new Client({ apiUrl: stack.url });
});
afterAll(() => stack?.stop());

describe("threads", () => {
  it("creates, gets, updates and deletes", async () => {
    const thread = await client.threads.create({ metadata: { user: "ada" }, graphId: "agent" });
    expect(thread).toMatchObject({ status: "idle", metadata: { user: "ada", graph_id: "agent" } });
    expect(thread.thread_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(thread.values ?? null).toBeNull();
    expect(new Date(thread.created_at).getTime()).toBeGreaterThan(0);

    expect(await client.threads.get(thread.thread_id)).toEqual(thread);

    const updated = await client.threads.update(thread.thread_id, { metadata: { plan: "pro" } });
    expect(updated.metadata).toEqual({ user: "ada", graph_id: "agent", plan: "pro" });
    expect(new Date(updated.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(thread.updated_at).getTime());

    const minimal = await client.threads.update(thread.thread_id, { metadata: { n: 1 }, returnMinimal: true });
    expect(minimal).toBeUndefined();
    expect((await client.threads.get(thread.thread_id)).metadata).toMatchObject({ n: 1, plan: "pro" });

    await client.threads.delete(thread.thread_id);
    expect(await statusOf(client.threads.get(thread.thread_id))).toBe(404);
    expect(await statusOf(client.threads.delete(thread.thread_id))).toBe(404);
  });

  it("takes a caller's id, answers 409 on a clash and returns the existing one with do_nothing", async () => {
    const threadId = crypto.randomUUID();
    const first = await client.threads.create({ threadId, metadata: { v: 1 } });
    expect(first.thread_id).toBe(threadId);
    expect(await statusOf(client.threads.create({ threadId }))).toBe(409);
    const again = await client.threads.create({ threadId, ifExists: "do_nothing", metadata: { v: 2 } });
    expect(again).toEqual(first);
  });

  it("keeps a TTL and shows it when asked", async () => {
    const thread = await client.threads.create({ ttl: 30 });
    const plain = await client.threads.get(thread.thread_id);
    expect(plain).not.toHaveProperty("ttl");
    const withTtl = (await client.threads.get(thread.thread_id, { include: ["ttl"] })) as unknown as {
      ttl: { strategy: string; ttl_minutes: number; expires_at: string };
    };
    expect(withTtl.ttl.strategy).toBe("delete");
    expect(withTtl.ttl.ttl_minutes).toBe(30);
    const remaining = new Date(withTtl.ttl.expires_at).getTime() - Date.now();
    expect(remaining).toBeGreaterThan(25 * 60_000);
    expect(remaining).toBeLessThanOrEqual(30 * 60_000);
  });

  it("searches by ids, metadata and status with sorting and paging, and counts", async () => {
    const tag = `t-${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await client.threads.create({ metadata: { tag, i } }));
    const asc = await client.threads.search({ metadata: { tag }, sortBy: "created_at", sortOrder: "asc" });
    expect(asc.map((t) => t.thread_id)).toEqual(made.map((t) => t.thread_id));
    const desc = await client.threads.search({ metadata: { tag } });
    expect(desc.map((t) => t.thread_id)).toEqual(made.map((t) => t.thread_id).reverse());
    const paged = await client.threads.search({ metadata: { tag }, sortOrder: "asc", sortBy: "created_at", limit: 1, offset: 1 });
    expect(paged.map((t) => t.thread_id)).toEqual([made[1]?.thread_id]);
    const picked = [made[0]?.thread_id ?? "", made[2]?.thread_id ?? ""];
    const byIds = await client.threads.search({ ids: picked });
    expect(byIds.map((t) => t.thread_id).sort()).toEqual(picked.sort());
    expect(await client.threads.search({ metadata: { tag }, status: "busy" })).toEqual([]);
    expect((await client.threads.search({ metadata: { tag }, status: "idle" })).length).toBe(3);
    expect(await client.threads.count({ metadata: { tag } })).toBe(3);
    expect(await client.threads.count({ metadata: { tag, i: 1 } })).toBe(1);
    const selected = await client.threads.search({ metadata: { tag }, select: ["thread_id", "status"], limit: 1 });
    expect(Object.keys(selected[0] ?? {}).sort()).toEqual(["status", "thread_id"]);
  });

  it("extracts paths into the search results", async () => {
    const tag = `x-${Date.now()}`;
    await client.threads.create({ metadata: { tag, nested: { deep: [1, 2, 3] } } });
    const [hit] = await client.threads.search({
      metadata: { tag },
      extract: { last: "metadata.nested.deep[-1]", none: "values.missing" },
    });
    expect((hit as unknown as { extracted: unknown }).extracted).toEqual({ last: 3, none: null });
  });

  it("copies a thread under a new id", async () => {
    const source = await client.threads.create({ metadata: { origin: "copy-me" } });
    const copy = await client.threads.copy(source.thread_id);
    expect(copy.thread_id).not.toBe(source.thread_id);
    expect(copy.metadata).toEqual({ origin: "copy-me" });
    expect(await statusOf(client.threads.copy(crypto.randomUUID()))).toBe(404);
  });

  it("prunes threads", async () => {
    const a = await client.threads.create();
    const b = await client.threads.create();
    const kept = await client.threads.prune([a.thread_id], { strategy: "keep_latest" });
    expect(kept.pruned_count).toBe(1);
    expect((await client.threads.get(a.thread_id)).thread_id).toBe(a.thread_id);
    const deleted = await client.threads.prune([a.thread_id, b.thread_id]);
    expect(deleted.pruned_count).toBe(2);
    expect(await statusOf(client.threads.get(b.thread_id))).toBe(404);
  });

  it("reports storage of a thread", async () => {
    const thread = await client.threads.create();
    const res = await fetch(`${stack.url}/threads/${thread.thread_id}/storage`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      thread_id: thread.thread_id,
      total_bytes: 0,
      checkpoints: { count: 0, bytes: 0 },
      pending_writes: { count: 0, bytes: 0 },
    });
  });
});
