import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_CONFIG } from "./compose.js";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

/**
 * A message of about 9 MB (under the default 10 MiB body limit) through runs/wait, on the example
 * graph of `npm start` (it answers "You said: <message>"): it must come back intact, byte for byte,
 * stateless and on a thread, and stay intact wherever the run and its thread keep it. With Redis,
 * the worker reads the run's spec and the api-server the run's result from Postgres; without it (as
 * `npm start`), both are handed over in the process. Correctness only;
 * `node scripts/bench/large-message.mjs` measures the time.
 */
let stack: TestStack;
let client: Client;
let local: TestStack;
let localClient: Client;

beforeAll(async () => {
  [stack, local] = await Promise.all([startTestStack(EXAMPLE_CONFIG), startTestStack(EXAMPLE_CONFIG, { redis: false })]);
  client = new Client({ apiUrl: stack.url });
  localClient = new Client({ apiUrl: local.url });
}, 120_000);
afterAll(() => Promise.all([stack?.stop(), local?.stop()]));

// Multi-byte characters at both ends and in the middle, so any decoding on the way shows.
const content = `é✓ ${"x".repeat(4_500_000)} 😀 ${"y".repeat(4_500_000)} ✓é`;
const input = { messages: [{ role: "human", content }] };

type Message = { type?: string; content?: unknown };
const contents = (values: unknown) => ((values as { messages?: Message[] }).messages ?? []).map((m) => [m.type, m.content]);
const expected = [
  ["human", content],
  ["ai", `You said: ${content}`],
];

describe("a 9 MB message through runs/wait, in one process without Redis", () => {
  it("comes back intact from a stateless run and from a run on a thread", async () => {
    expect(contents(await localClient.runs.wait(null, "agent", { input }))).toEqual(expected);
    const thread = await localClient.threads.create();
    expect(contents(await localClient.runs.wait(thread.thread_id, "agent", { input }))).toEqual(expected);
    expect(contents((await localClient.threads.getState(thread.thread_id)).values)).toEqual(expected);
  }, 180_000);
});

describe("a 9 MB message through runs/wait", () => {
  it("comes back intact from a stateless run", async () => {
    const values = await client.runs.wait(null, "agent", { input });
    expect(contents(values)).toEqual(expected);
  }, 120_000);

  it("comes back intact from a run on a thread, and stays intact in the thread, the run and its join", async () => {
    const thread = await client.threads.create();
    const values = await client.runs.wait(thread.thread_id, "agent", { input });
    expect(contents(values)).toEqual(expected);

    const state = await client.threads.getState(thread.thread_id);
    expect(contents(state.values)).toEqual(expected);
    expect(state.next).toEqual([]);
    const stored = await client.threads.get(thread.thread_id);
    expect(stored.status).toBe("idle");
    expect(contents(stored.values)).toEqual(expected);

    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("success");
    // The SDK's Run type does not declare kwargs; the server answers them (as upstream does).
    const kwargs = (run as { kwargs?: unknown } | undefined)?.kwargs as { input?: typeof input; stream_mode?: unknown };
    expect(kwargs.input?.messages[0]?.content).toBe(content);
    expect(kwargs.stream_mode).toEqual(["values"]);
    const joined = await client.runs.join(thread.thread_id, run?.run_id as string);
    expect(contents(joined)).toEqual(expected);

    // The next run on the thread starts from the stored checkpoint, message and all.
    const next = await client.runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "human", content: "and?" }] } });
    expect(contents(next)).toEqual([...expected, ["human", "and?"], ["ai", "You said: and?"]]);
  }, 180_000);
});
