import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

const GRAPHS = fileURLToPath(new URL("./test-fixtures/fair-execution/langgraph.json", import.meta.url));

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack(GRAPHS);
  client = new Client({ apiUrl: stack.url });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a run whose answer Postgres cannot store (a NUL character)", () => {
  it("ends error at once, saying why, and its thread serves the next run", { timeout: 60_000 }, async () => {
    const thread = await client.threads.create();
    // Its stream says why (not RunLeaseExpired, after its end went unrecorded attempt after attempt).
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const chunk of client.runs.stream(thread.thread_id, "nul", { input: {} })) events.push(chunk);
    expect(events.filter((e) => e.event === "error").map((e) => (e.data as { error?: string }).error)).toEqual([
      "UnstorableOutput",
    ]);
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("error");
    expect((await client.threads.get(thread.thread_id)).status).toBe("error");

    const next = (await client.runs.wait(thread.thread_id, "echo", { input: { text: "hi" } })) as { reply?: string };
    expect(next.reply).toBe("You said: hi");
  });
});
