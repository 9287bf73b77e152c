// API keys without any code: LANGOPEN_API_KEYS, checked in x-api-key, as the official SDK sends it.
import { createHash } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

let stack: TestStack;
const hashed = createHash("sha256").update("sk-hashed-key").digest("hex");

beforeAll(async () => {
  stack = await startTestStack(undefined, { launcher: { apiKeys: `ci=sk-test-key, ops=sha256:${hashed}` } });
});
afterAll(() => stack?.stop());

describe("API keys", () => {
  it("answers 401 in the upstream shape without a key or with a wrong one, and serves a right one", async () => {
    for (const apiKey of [undefined, "sk-wrong", `sha256:${hashed}`]) {
      const res = await fetch(`${stack.url}/threads/search`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(apiKey ? { "x-api-key": apiKey } : {}) },
        body: "{}",
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: "Missing or invalid API key" });
    }
    // The SDK reads LANGGRAPH_API_KEY and friends from the environment unless given a key; null sends none.
    expect(await statusOf(new Client({ apiUrl: stack.url, apiKey: null }).threads.search())).toBe(401);
    for (const apiKey of ["sk-test-key", "sk-hashed-key"]) {
      const client = new Client({ apiUrl: stack.url, apiKey });
      const thread = await client.threads.create();
      expect((await client.threads.get(thread.thread_id)).thread_id).toBe(thread.thread_id);
      const result = await client.runs.wait(thread.thread_id, "agent", { input: { value: 1 } });
      expect(result).toEqual({ value: 1 });
    }
    expect((await fetch(`${stack.url}/ok`)).status).toBe(200);
    expect((await fetch(`${stack.url}/info`)).status).toBe(200);
  });
});
