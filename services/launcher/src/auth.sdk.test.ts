// Custom auth as LangGraph users write it (test-fixtures/auth-project/auth.mjs), exercised with the
// official SDK as two users: who may see and change what, and what the graph learns of its caller.
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

const AUTH_PROJECT = fileURLToPath(new URL("./test-fixtures/auth-project/langgraph.json", import.meta.url));

let stack: TestStack;
let alice: Client;
let bob: Client;
let reader: Client;
const as = (token: string) => new Client({ apiUrl: stack.url, defaultHeaders: { Authorization: `Bearer ${token}` } });

beforeAll(async () => {
  stack = await startTestStack(AUTH_PROJECT);
  alice = as("token-alice");
  bob = as("token-bob");
  reader = as("token-reader");
});
afterAll(() => stack?.stop());

const raw = (path: string, init: RequestInit = {}) => fetch(`${stack.url}${path}`, init);

describe("authentication", () => {
  it("answers 401 with the exception's headers for a missing or bad token, and keeps /info and /ok open", async () => {
    for (const headers of [{}, { Authorization: "Bearer nope" }] as Record<string, string>[]) {
      const res = await raw("/threads/search", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      expect(await res.json()).toEqual({ detail: "Invalid token" });
    }
    expect((await raw("/info")).status).toBe(200);
    expect((await raw("/ok")).status).toBe(200);
    expect(await statusOf(new Client({ apiUrl: stack.url }).threads.search())).toBe(401);
  });

  it("answers 500 without internals when authenticate throws or returns something that is not a user", async () => {
    for (const token of ["token-crash", "token-broken"]) {
      const res = await raw("/threads/search", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).toBe(500);
      expect(JSON.stringify(await res.json())).not.toMatch(/internal detail|42/);
    }
  });

  it("does not trust x-auth-scheme: langsmith", async () => {
    const res = await raw("/threads/search", {
      method: "POST",
      headers: { "x-auth-scheme": "langsmith", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
  });

  it("accepts a user given as a string", async () => {
    const thread = await as("token-string").threads.create();
    expect(thread.metadata).toMatchObject({ owner: "stringy" });
  });
});

describe("assistants", () => {
  it("stamps the owner on create, refuses a user without the permission, and hides one user's from the other", async () => {
    expect(await statusOf(reader.assistants.create({ graphId: "whoami" }))).toBe(403);
    const mine = await alice.assistants.create({ graphId: "whoami", name: "alice's", metadata: { owner: "mallory" } });
    expect(mine.metadata).toMatchObject({ owner: "alice" });
    const id = mine.assistant_id;
    expect((await alice.assistants.get(id)).assistant_id).toBe(id);
    for (const [i, call] of [
      () => bob.assistants.get(id),
      () => bob.assistants.update(id, { metadata: { x: 1 } }),
      () => bob.assistants.delete(id),
      () => bob.assistants.getGraph(id),
      () => bob.assistants.getSchemas(id),
      () => bob.assistants.setLatest(id, 1),
    ].entries()) {
      expect(await statusOf(call()), `call ${i}`).toBe(404);
    }
    expect(await statusOf(bob.assistants.create({ graphId: "whoami", assistantId: id }))).toBe(409);
    expect(await statusOf(bob.assistants.create({ graphId: "whoami", assistantId: id, ifExists: "do_nothing" }))).toBe(409);
    const seenByBob = await bob.assistants.search({ limit: 100 });
    expect(seenByBob.map((a) => a.assistant_id)).not.toContain(id);
    expect(seenByBob.every((a) => a.metadata?.owner === "bob")).toBe(true);
    expect(await bob.assistants.count()).toBe(seenByBob.length);
    expect((await alice.assistants.search({ limit: 100 })).map((a) => a.assistant_id)).toContain(id);
  });
});

describe("threads", () => {
  it("hides another user's thread: 404 on read, update and delete, 409 on copy, never in search or count", async () => {
    const thread = await alice.threads.create({ metadata: { topic: "secret" } });
    expect(thread.metadata).toMatchObject({ owner: "alice", topic: "secret" });
    const id = thread.thread_id;
    for (const [i, call] of [
      () => bob.threads.get(id),
      () => bob.threads.update(id, { metadata: { topic: "stolen" } }),
      () => bob.threads.getState(id),
      () => bob.threads.updateState(id, { values: { input: "x" } }),
      () => bob.threads.getHistory(id),
      () => bob.threads.delete(id),
    ].entries()) {
      expect(await statusOf(call()), `call ${i}`).toBe(404);
    }
    expect(await statusOf(bob.threads.copy(id))).toBe(409);
    expect(await statusOf(bob.threads.create({ threadId: id }))).toBe(409);
    expect((await alice.threads.get(id)).metadata).toMatchObject({ topic: "secret" });
    expect((await bob.threads.search({ limit: 100 })).map((t) => t.thread_id)).not.toContain(id);
  });

  it("counts and pages only the caller's threads, however many others there are", async () => {
    const before = await bob.threads.count();
    await Promise.all(Array.from({ length: 25 }, () => alice.threads.create({ metadata: { batch: "paging" } })));
    const bobs = await Promise.all(Array.from({ length: 7 }, () => bob.threads.create({ metadata: { batch: "paging" } })));
    expect(await bob.threads.count()).toBe(before + 7);
    const pages = [];
    for (let offset = 0; offset < 12; offset += 5) {
      pages.push(...(await bob.threads.search({ metadata: { batch: "paging" }, limit: 5, offset })));
    }
    expect(pages.map((t) => t.thread_id).sort()).toEqual(bobs.map((t) => t.thread_id).sort());
    expect(await alice.threads.count({ metadata: { batch: "paging" } })).toBe(25);
  });
});

describe("runs", () => {
  it("gives the graph its caller, overwriting what the client sent", async () => {
    const thread = await alice.threads.create();
    const result = (await alice.runs.wait(thread.thread_id, "whoami", {
      input: {},
      config: { configurable: { langgraph_auth_user_id: "mallory", langgraph_auth_user: { identity: "mallory" } } },
    })) as { seen: { user: Record<string, unknown>; user_id: string; permissions: string[] } };
    expect(result.seen.user_id).toBe("alice");
    expect(result.seen.permissions).toEqual(["assistants:write"]);
    expect(result.seen.user).toMatchObject({ identity: "alice", team: "red" });
  });

  it("hides another user's runs and refuses runs on their threads", async () => {
    const thread = await alice.threads.create();
    const run = await alice.runs.create(thread.thread_id, "whoami", { input: {} });
    await alice.runs.join(thread.thread_id, run.run_id);
    for (const [i, call] of [
      () => bob.runs.create(thread.thread_id, "whoami", { input: {} }),
      () => bob.runs.wait(thread.thread_id, "whoami", { input: {} }),
      () => bob.runs.get(thread.thread_id, run.run_id),
      () => bob.runs.list(thread.thread_id),
      () => bob.runs.cancel(thread.thread_id, run.run_id),
      () => bob.runs.delete(thread.thread_id, run.run_id),
    ].entries()) {
      expect(await statusOf(call()), `call ${i}`).toBe(404);
    }
    expect((await alice.runs.get(thread.thread_id, run.run_id)).run_id).toBe(run.run_id);
  });

  it("answers another user's stream join with one error event, as upstream does", async () => {
    const thread = await alice.threads.create();
    const run = await alice.runs.create(thread.thread_id, "whoami", { input: {} });
    const chunks: { event: string; data: unknown }[] = [];
    for await (const chunk of bob.runs.joinStream(thread.thread_id, run.run_id)) chunks.push(chunk);
    expect(chunks).toEqual([{ event: "error", data: { error: "NotFoundError", message: expect.stringContaining("404") } }]);
    const own: string[] = [];
    for await (const chunk of alice.runs.joinStream(thread.thread_id, run.run_id)) own.push(chunk.event);
    expect(own).not.toContain("error");
  });

  it("runs statelessly, and a thread a run creates carries its creator", async () => {
    const stateless = (await alice.runs.wait(null, "whoami", { input: {} })) as { seen: { user_id: string } };
    expect(stateless.seen.user_id).toBe("alice");
    const threadId = crypto.randomUUID();
    await alice.runs.wait(threadId, "whoami", { input: {}, ifNotExists: "create" });
    expect((await alice.threads.get(threadId)).metadata).toMatchObject({ owner: "alice" });
    expect(await statusOf(bob.threads.get(threadId))).toBe(404);
  });
});

describe("store", () => {
  it("scopes a user to namespaces holding their identity", async () => {
    await alice.store.putItem(["alice", "notes"], "n1", { text: "hi" });
    expect((await alice.store.getItem(["alice", "notes"], "n1"))?.value).toEqual({ text: "hi" });
    expect(await statusOf(alice.store.putItem(["ALL"], "n1", { text: "everyone" }))).toBe(403);
    expect(await statusOf(bob.store.getItem(["alice", "notes"], "n1"))).toBe(404);
    expect(await statusOf(bob.store.deleteItem(["alice", "notes"], "n1"))).toBe(404);
    expect(await statusOf(bob.store.putItem(["alice", "notes"], "n1", { text: "overwritten" }))).toBe(404);
    await bob.store.putItem(["bob"], "b1", { text: "bob's" });
    const bobSees = await bob.store.searchItems([]);
    expect(bobSees.items.map((i) => i.namespace[0])).toEqual(["bob"]);
    const namespaces = await bob.store.listNamespaces();
    expect(namespaces.namespaces.every((ns) => ns.includes("bob"))).toBe(true);
    expect((await alice.store.getItem(["alice", "notes"], "n1"))?.value).toEqual({ text: "hi" });
  });
});

describe("crons", () => {
  it("applies the most specific handler: crons:delete refuses, the * handler filters the rest", async () => {
    const assistant = await alice.assistants.create({ graphId: "whoami" });
    const cron = await alice.crons.create(assistant.assistant_id, { schedule: "0 0 1 1 *", input: {} });
    expect(await statusOf(alice.crons.delete(cron.cron_id))).toBe(403);
    expect((await bob.crons.search({ limit: 100 })).map((c) => c.cron_id)).not.toContain(cron.cron_id);
  });
});

describe("other protocols", () => {
  it("A2A and MCP need a caller, and A2A cannot read another user's task", async () => {
    const a2a = (token?: string, body: unknown = {}) =>
      raw("/a2a/whoami", {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    expect((await a2a(undefined, { jsonrpc: "2.0", id: 1, method: "tasks/get", params: { id: "x" } })).status).toBe(401);
    const mcp = await raw("/mcp", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(401);
    const thread = await alice.threads.create();
    const run = await alice.runs.create(thread.thread_id, "whoami", { input: {} });
    await alice.runs.join(thread.thread_id, run.run_id);
    const res = await a2a("token-bob", {
      jsonrpc: "2.0",
      id: 2,
      method: "tasks/get",
      params: { id: run.run_id, metadata: { thread_id: thread.thread_id } },
    });
    const body = (await res.json()) as { error?: { code: number }; result?: unknown };
    expect(body.result).toBeUndefined();
    expect(body.error).toBeDefined();
  });
});
