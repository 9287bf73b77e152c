import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

/**
 * The work one request may cause (issue 13): JSON bodies nested thousands deep or carrying
 * hundreds of thousands of keys are refused with 413 before anything parses or stores them, on
 * every route that takes JSON; bodies near the limits go through whole. MCP batches are capped
 * and cost one listing however many tools/list they hold.
 */

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  client = new Client({ apiUrl: stack.url });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

/** JSON text of objects nested `depth` deep (`{"a":{"a":...}}`), built as text: no recursion here either. */
const deepObject = (depth: number) => `${'{"a":'.repeat(depth - 1)}{"leaf":true}${"}".repeat(depth - 1)}`;
const deepArray = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** The same value as deepObject, for comparing what comes back. */
function deepValue(depth: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

async function send(method: string, path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, text };
}

/** What the routes under attack could have written: threads, runs and history of one thread, store items. */
async function snapshot(threadId: string) {
  const thread = await client.threads.get(threadId);
  return {
    threads: await client.threads.count(),
    runs: (await client.runs.list(threadId)).length,
    history: (await client.threads.getHistory(threadId, { limit: 100 })).length,
    metadata: thread.metadata,
    items: (await client.store.searchItems(["limits"], { limit: 100 })).items.length,
    assistants: await client.assistants.count(),
  };
}

describe("JSON bodies past the complexity limits", () => {
  it("refuses 5 000-deep bodies on the store, thread, state and run routes with 413, writing nothing", async () => {
    const thread = await client.threads.create({ metadata: { owner: "limits" } });
    const id = thread.thread_id;
    const before = await snapshot(id);
    const deep = [deepObject(5_000), deepArray(5_000)];
    const attacks: Array<[string, string, (v: string) => string]> = [
      ["PUT", "/store/items", (v) => `{"namespace":["limits"],"key":"k","value":${v}}`],
      ["POST", "/threads", (v) => `{"metadata":${v}}`],
      ["PATCH", `/threads/${id}`, (v) => `{"metadata":{"x":${v}}}`],
      ["POST", `/threads/${id}/state`, (v) => `{"values":${v}}`],
      ["POST", `/threads/${id}/runs`, (v) => `{"assistant_id":"echo","input":${v}}`],
      ["POST", `/threads/${id}/runs/wait`, (v) => `{"assistant_id":"echo","input":${v}}`],
      ["POST", `/threads/${id}/runs/stream`, (v) => `{"assistant_id":"echo","input":${v}}`],
      ["POST", "/runs/wait", (v) => `{"assistant_id":"echo","input":${v}}`],
      ["POST", "/runs/batch", (v) => `[{"assistant_id":"echo","input":${v}}]`],
      ["POST", "/assistants", (v) => `{"graph_id":"echo","config":{"configurable":${v}}}`],
      ["POST", "/threads/search", (v) => `{"metadata":${v}}`],
      // The protocol endpoints parse their bodies their own way, with the same limits.
      ["POST", `/threads/${id}/commands`, (v) => `{"id":1,"method":"run.input","params":${v}}`],
      ["POST", `/threads/${id}/stream/events`, (v) => `{"channels":${v}}`],
      ["POST", "/mcp", (v) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":${v}}}`],
      ["POST", `/a2a/${id}`, (v) => `{"jsonrpc":"2.0","id":1,"method":"message/send","params":${v}}`],
    ];
    for (const [method, path, body] of attacks) {
      for (const value of deep) {
        const res = await send(method, path, body(value));
        expect(res.status, `${method} ${path} -> ${res.text}`).toBe(413);
        expect(JSON.parse(res.text)).toEqual({ detail: "Request body is nested too deeply: the limit is 200 levels" });
      }
    }
    expect(await snapshot(id)).toEqual(before);
  }, 120_000);

  it("refuses 600 000 keys in one object (10 MB) with 413, writing nothing, and keeps serving", async () => {
    const thread = await client.threads.create();
    const before = await snapshot(thread.thread_id);
    const keys = Array.from({ length: 600_000 }, (_, i) => `"k${i}":${i}`).join(",");
    const res = await send("POST", "/threads", `{"metadata":{${keys}}}`);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toEqual({
      detail: "Request body has an object with too many keys: the limit is 10000 keys per object",
    });
    // The same count spread over small objects is refused by the total.
    const spread = Array.from({ length: 70_000 }, (_, i) => `{"a":${i},"b":${i},"c":${i}}`).join(",");
    const many = await send("PUT", "/store/items", `{"namespace":["limits"],"key":"many","value":{"rows":[${spread}]}}`);
    expect(many.status).toBe(413);
    expect(JSON.parse(many.text).detail).toMatch(/too many values: the limit is 200000/);
    expect(await snapshot(thread.thread_id)).toEqual(before);
    expect((await fetch(`${stack.url}/ok`)).status).toBe(200);
  }, 120_000);

  it("takes bodies near the limits whole: 190 levels and 10 000 keys round-trip through the store and threads", async () => {
    const depth = 190;
    const thread = await client.threads.create({ metadata: deepValue(depth) as Record<string, unknown> });
    expect((await client.threads.get(thread.thread_id)).metadata).toEqual(deepValue(depth));

    const put = await send("PUT", "/store/items", `{"namespace":["limits"],"key":"deep","value":{"v":${deepObject(depth)}}}`);
    expect(put.status, put.text).toBe(204);
    expect((await client.store.getItem(["limits"], "deep"))?.value).toEqual({ v: deepValue(depth) });

    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const created = await client.threads.create({ metadata: wide });
    expect(Object.keys((await client.threads.get(created.thread_id)).metadata ?? {})).toHaveLength(10_000);
    await client.store.deleteItem(["limits"], "deep");
  }, 120_000);
});

describe("MCP batches", () => {
  const headers = { accept: "application/json, text/event-stream" };
  const listTools = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/list" });

  it("refuses a batch over the cap and answers one at the cap, each request with the same listing", async () => {
    const over = await send("POST", "/mcp", JSON.stringify(Array.from({ length: 21 }, (_, i) => listTools(i))), headers);
    expect(over.status).toBe(400);
    expect(JSON.parse(over.text)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });

    const single = await send("POST", "/mcp", JSON.stringify(listTools(1)), headers);
    const one = JSON.parse(single.text) as { result: { tools: Array<{ name: string }> } };
    const batch = await send("POST", "/mcp", JSON.stringify(Array.from({ length: 20 }, (_, i) => listTools(i))), headers);
    expect(batch.status).toBe(200);
    const answers = JSON.parse(batch.text) as Array<{ id: number; result: { tools: unknown[] } }>;
    expect(answers.map((a) => a.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const answer of answers) expect(answer.result.tools).toEqual(one.result.tools);
  }, 60_000);
});
