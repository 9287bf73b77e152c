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

describe("default assistants", () => {
  it("makes one per graph, with the UUIDv5 of the graph id", async () => {
    const found = await client.assistants.search({ graphId: "agent" });
    const system = found.filter((a) => a.metadata?.created_by === "system");
    expect(system).toHaveLength(1);
    expect(system[0]).toMatchObject({
      assistant_id: "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
      graph_id: "agent",
      name: "agent",
      version: 1,
      config: {},
    });
  });

  it("accepts the graph id in place of the assistant id", async () => {
    const byGraph = await client.assistants.get("agent");
    expect(byGraph.assistant_id).toBe("fe096781-5601-53d2-b2f6-0d3403f7e9ca");
    expect(await statusOf(client.assistants.get("no-such-graph"))).toBe(404);
  });
});

describe("assistants", () => {
  it("creates, gets, updates with versions, selects a version, and deletes", async () => {
    const created = await client.assistants.create({
      graphId: "agent",
      name: "Helper",
      description: "helps",
      config: { configurable: { model: "a" } },
      context: { user: "u1" },
      metadata: { team: "red" },
    });
    expect(created).toMatchObject({ graph_id: "agent", name: "Helper", description: "helps", version: 1 });
    expect(created.metadata).toEqual({ team: "red" });
    expect(new Date(created.created_at).toString()).not.toBe("Invalid Date");

    expect(await client.assistants.get(created.assistant_id)).toEqual(created);

    const updated = await client.assistants.update(created.assistant_id, {
      config: { configurable: { model: "b" } },
      metadata: { stage: "prod" },
    });
    expect(updated.version).toBe(2);
    expect(updated.name).toBe("Helper");
    expect(updated.metadata).toEqual({ team: "red", stage: "prod" });
    expect(updated.config).toEqual({ configurable: { model: "b" } });

    const versions = await client.assistants.getVersions(created.assistant_id);
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    const onlyProd = await client.assistants.getVersions(created.assistant_id, { metadata: { stage: "prod" } });
    expect(onlyProd.map((v) => v.version)).toEqual([2]);

    const back = await client.assistants.setLatest(created.assistant_id, 1);
    expect(back.version).toBe(1);
    expect(back.config).toEqual({ configurable: { model: "a" } });
    expect((await client.assistants.get(created.assistant_id)).version).toBe(1);
    expect(await statusOf(client.assistants.setLatest(created.assistant_id, 9))).toBe(404);

    await client.assistants.delete(created.assistant_id);
    expect(await statusOf(client.assistants.get(created.assistant_id))).toBe(404);
    expect(await statusOf(client.assistants.delete(created.assistant_id))).toBe(404);
  });

  it("answers 409 for an existing id, or the existing one with if_exists do_nothing", async () => {
    const first = await client.assistants.create({ graphId: "agent", name: "once" });
    expect(await statusOf(client.assistants.create({ graphId: "agent", assistantId: first.assistant_id }))).toBe(409);
    const again = await client.assistants.create({
      graphId: "agent",
      assistantId: first.assistant_id,
      ifExists: "do_nothing",
      name: "ignored",
    });
    expect(again).toEqual(first);
  });

  it("refuses an unknown graph", async () => {
    expect(await statusOf(client.assistants.create({ graphId: "missing" }))).toBe(404);
  });

  it("searches by metadata, graph and name with sorting, paging and counts", async () => {
    const tag = `s-${Date.now()}`;
    for (const [i, graphId] of ["agent", "other", "agent"].entries()) {
      await client.assistants.create({ graphId, name: `${tag} number ${i}`, metadata: { tag, i } });
    }
    const all = await client.assistants.search({ metadata: { tag }, sortBy: "name", sortOrder: "asc" });
    expect(all.map((a) => a.name)).toEqual([`${tag} number 0`, `${tag} number 1`, `${tag} number 2`]);
    expect(await client.assistants.count({ metadata: { tag } })).toBe(3);
    expect(await client.assistants.count({ metadata: { tag }, graphId: "agent" })).toBe(2);
    const byName = await client.assistants.search({ name: `${tag} NUMBER 1`.toLowerCase() });
    expect(byName.map((a) => a.graph_id)).toEqual(["other"]);

    const page = await client.assistants.search({
      metadata: { tag },
      sortBy: "name",
      sortOrder: "desc",
      limit: 2,
      includePagination: true,
    });
    expect(page.assistants.map((a) => a.name)).toEqual([`${tag} number 2`, `${tag} number 1`]);
    expect(page.next).toBe("2");
    const last = await client.assistants.search({ metadata: { tag }, sortBy: "name", sortOrder: "desc", limit: 2, offset: 2 });
    expect(last.map((a) => a.name)).toEqual([`${tag} number 0`]);

    const trimmed = await client.assistants.search({ metadata: { tag }, select: ["assistant_id", "name"], limit: 1 });
    expect(Object.keys(trimmed[0] ?? {}).sort()).toEqual(["assistant_id", "name"]);
  });

  it("deletes the assistant's threads when asked", async () => {
    const assistant = await client.assistants.create({ graphId: "agent" });
    const thread = await client.threads.create({ metadata: { assistant_id: assistant.assistant_id } });
    const kept = await client.threads.create({ metadata: { assistant_id: "someone-else" } });
    await client.assistants.delete(assistant.assistant_id, { deleteThreads: true });
    expect(await statusOf(client.threads.get(thread.thread_id))).toBe(404);
    expect((await client.threads.get(kept.thread_id)).thread_id).toBe(kept.thread_id);
  });
});
