import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

/** Any 8-4-4-4-12 hex id is a UUID to the SDKs, whatever its version and variant bits say. */
describe("ids of any 8-4-4-4-12 hex shape", () => {
  let stack: TestStack;
  let client: Client;
  beforeAll(async () => {
    stack = await startTestStack();
    client = new Client({ apiUrl: stack.url });
  }, 90_000);
  afterAll(() => stack?.stop());

  it("creates a thread with a version-less id, reads it back and runs on it", async () => {
    const threadId = "11111111-1111-1111-1111-111111111111";
    expect((await client.threads.create({ threadId })).thread_id).toBe(threadId);
    expect((await client.threads.get(threadId)).thread_id).toBe(threadId);
    expect(await client.runs.wait(threadId, "agent", { input: { value: "ones" } })).toEqual({ value: "ones" });
    const [run] = await client.runs.list(threadId);
    expect(run?.thread_id).toBe(threadId);
    expect(await client.runs.get(threadId, run?.run_id as string)).toMatchObject({ status: "success" });
    expect((await client.threads.getState(threadId)).values).toEqual({ value: "ones" });
  });

  it("takes an upper-case id and stores it in lower case", async () => {
    const threadId = "ABCDEF00-0000-0000-0000-00000000ABCD";
    expect((await client.threads.create({ threadId })).thread_id).toBe(threadId.toLowerCase());
    expect((await client.threads.get(threadId)).thread_id).toBe(threadId.toLowerCase());
    const assistant = await client.assistants.create({ graphId: "agent", assistantId: "22222222-2222-2222-2222-22222222222A" });
    expect(assistant.assistant_id).toBe("22222222-2222-2222-2222-22222222222a");
    expect(await client.runs.wait(threadId, assistant.assistant_id.toUpperCase(), { input: { value: 2 } })).toEqual({ value: 2 });
  });

  it("still refuses ids of another shape with 422", async () => {
    for (const bad of [
      "1111111-1111-1111-1111-111111111111",
      "11111111-1111-1111-1111-11111111111g",
      "11111111111111111111111111111111",
    ]) {
      expect(await statusOf(client.threads.create({ threadId: bad }))).toBe(422);
      expect(await statusOf(client.threads.get(bad))).toBe(422);
      expect(await statusOf(client.assistants.create({ graphId: "agent", assistantId: bad }))).toBe(422);
    }
  });
});
