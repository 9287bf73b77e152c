import { Client } from "@langchain/langgraph-sdk";
import pg from "pg";
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

describe("store", () => {
  it("puts, gets, overwrites and deletes an item", async () => {
    await client.store.putItem(["users", "ada"], "prefs", { theme: "dark", size: 3 });
    const item = await client.store.getItem(["users", "ada"], "prefs");
    expect(item).toMatchObject({ namespace: ["users", "ada"], key: "prefs", value: { theme: "dark", size: 3 } });
    expect(new Date(item?.createdAt ?? 0).getTime()).toBeGreaterThan(0);

    await client.store.putItem(["users", "ada"], "prefs", { theme: "light" });
    expect((await client.store.getItem(["users", "ada"], "prefs"))?.value).toEqual({ theme: "light" });

    await client.store.deleteItem(["users", "ada"], "prefs");
    expect(await client.store.getItem(["users", "ada"], "prefs")).toBeNull();
  });

  it("searches by namespace prefix and filter, newest first, with paging", async () => {
    await client.store.putItem(["docs", "a"], "1", { kind: "note", n: 1 });
    await client.store.putItem(["docs", "a", "deep"], "2", { kind: "todo", n: 2 });
    await client.store.putItem(["docs", "b"], "3", { kind: "note", n: 3 });
    await client.store.putItem(["docsx"], "4", { kind: "note", n: 4 });

    const underA = await client.store.searchItems(["docs", "a"]);
    expect(underA.items.map((i) => i.key)).toEqual(["2", "1"]);
    const notes = await client.store.searchItems(["docs"], { filter: { kind: "note" } });
    expect(notes.items.map((i) => i.key)).toEqual(["3", "1"]);
    const page = await client.store.searchItems(["docs"], { limit: 1, offset: 1 });
    expect(page.items.map((i) => i.key)).toEqual(["2"]);
  });

  it("lists namespaces with prefix, suffix and max depth", async () => {
    await client.store.putItem(["org", "eng", "alice"], "k", { v: 1 });
    await client.store.putItem(["org", "eng", "bob"], "k", { v: 1 });
    await client.store.putItem(["org", "ops", "alice"], "k", { v: 1 });
    const all = await client.store.listNamespaces({ prefix: ["org"] });
    expect(all.namespaces).toEqual([
      ["org", "eng", "alice"],
      ["org", "eng", "bob"],
      ["org", "ops", "alice"],
    ]);
    const shallow = await client.store.listNamespaces({ prefix: ["org"], maxDepth: 2 });
    expect(shallow.namespaces).toEqual([
      ["org", "eng"],
      ["org", "ops"],
    ]);
    const alices = await client.store.listNamespaces({ prefix: ["org"], suffix: ["alice"] });
    expect(alices.namespaces).toEqual([
      ["org", "eng", "alice"],
      ["org", "ops", "alice"],
    ]);
  });

  it("expires items after their TTL and never returns them", async () => {
    await client.store.putItem(["ttl"], "short", { v: 1 }, { ttl: 1 });
    expect((await client.store.getItem(["ttl"], "short"))?.value).toEqual({ v: 1 });
    // Move the expiry into the past directly in Postgres rather than waiting a minute.
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      await db.query("UPDATE store_items SET expires_at = now() - interval '1 second' WHERE key = 'short'");
    } finally {
      await db.end();
    }
    expect(await client.store.getItem(["ttl"], "short")).toBeNull();
    expect((await client.store.searchItems(["ttl"])).items).toEqual([]);
  });

  it("rejects bad namespaces", async () => {
    const res = await fetch(`${stack.url}/store/items`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ namespace: ["a.b"], key: "k", value: { v: 1 } }),
    });
    expect(res.status).toBe(422);
    const empty = await fetch(`${stack.url}/store/items`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ namespace: [], key: "k", value: { v: 1 } }),
    });
    expect(empty.status).toBe(400);
    expect(await statusOf(client.store.searchItems(["ok"], { limit: 5000 }))).toBe(422);
  });
});
