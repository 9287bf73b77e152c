import { Client } from "@langchain/langgraph-sdk";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  client = new Client({ apiUrl: stack.url });
}, 90_000);
afterAll(() => stack?.stop());

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });

type Chunk = { event: string; data: unknown; id?: string };

async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

const lastText = (values: unknown) => {
  const messages = (values as { messages?: Array<{ content: unknown; type?: string }> }).messages ?? [];
  return messages.at(-1)?.content;
};

describe("runs on a thread", () => {
  it("streams a run: metadata first, values and updates, the reply in the state", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "echo", {
        input: hi("hello"),
        streamMode: ["values", "updates"],
      }) as AsyncIterable<Chunk>,
    );
    expect(chunks[0]?.event).toBe("metadata");
    expect((chunks[0]?.data as { run_id: string } | undefined)?.run_id).toMatch(/^[0-9a-f-]{36}$/);
    const names = chunks.map((c) => c.event);
    expect(names).toContain("values");
    expect(names).toContain("updates");
    const lastValues = chunks.filter((c) => c.event === "values").at(-1);
    expect(lastText(lastValues?.data)).toBe("You said: hello");
    const updates = chunks.find((c) => c.event === "updates");
    expect(Object.keys(updates?.data as object)).toEqual(["reply"]);

    const state = await client.threads.getState(thread.thread_id);
    expect(lastText(state.values)).toBe("You said: hello");
    expect(state.next).toEqual([]);
    const after = await client.threads.get(thread.thread_id);
    expect(after.status).toBe("idle");
    expect(lastText(after.values)).toBe("You said: hello");
    expect(after.metadata).toMatchObject({ graph_id: "echo" });
  });

  it("waits for a run and returns its values; background runs can be joined, listed and fetched", async () => {
    const thread = await client.threads.create();
    const values = await client.runs.wait(thread.thread_id, "echo", { input: hi("one") });
    expect(lastText(values)).toBe("You said: one");

    const run = await client.runs.create(thread.thread_id, "echo", { input: hi("two"), metadata: { tag: "bg" } });
    expect(run.status).toBe("pending");
    const joined = await client.runs.join(thread.thread_id, run.run_id);
    expect(lastText(joined)).toBe("You said: two");
    const fetched = await client.runs.get(thread.thread_id, run.run_id);
    expect(fetched).toMatchObject({
      run_id: run.run_id,
      status: "success",
      metadata: { tag: "bg" },
      thread_id: thread.thread_id,
    });
    const listed = await client.runs.list(thread.thread_id);
    expect(listed.map((r) => r.run_id)).toContain(run.run_id);
    expect(listed).toHaveLength(2);

    await client.runs.delete(thread.thread_id, run.run_id);
    expect(await statusOf(client.runs.get(thread.thread_id, run.run_id))).toBe(404);
  });

  it("a wait or stream that the client leaves cancels its run with on_disconnect=cancel, and lets it finish by default", async () => {
    const leave = async (how: "wait" | "stream", onDisconnect: "cancel" | "continue") => {
      const thread = await client.threads.create();
      const gone = new AbortController();
      const options = { input: {}, config: { configurable: { ticks: 20 } }, onDisconnect, signal: gone.signal };
      const waiting =
        how === "wait"
          ? client.runs.wait(thread.thread_id, "slow", options).catch(() => undefined)
          : collect(client.runs.stream(thread.thread_id, "slow", options) as AsyncIterable<Chunk>).catch(() => undefined);
      const run = await until(
        async () => (await client.runs.list(thread.thread_id)).find((r) => r.status === "running"),
        "the run to start",
      );
      gone.abort();
      await waiting;
      return until(
        async () => {
          const now = await client.runs.get(thread.thread_id, run.run_id);
          return now.status === "running" || now.status === "pending" ? undefined : now.status;
        },
        "the run to end",
        { timeoutMs: 30_000 },
      );
    };
    expect(await leave("wait", "cancel")).toBe("interrupted");
    expect(await leave("wait", "continue")).toBe("success");
    expect(await leave("stream", "cancel")).toBe("interrupted");
    expect(await leave("stream", "continue")).toBe("success");
  }, 90_000);

  it("creates the thread on demand with if_not_exists=create and answers 404 otherwise", async () => {
    const threadId = crypto.randomUUID();
    expect(await statusOf(client.runs.wait(threadId, "echo", { input: hi("x") }))).toBe(404);
    const values = await client.runs.wait(threadId, "echo", { input: hi("made"), ifNotExists: "create" });
    expect(lastText(values)).toBe("You said: made");
    expect((await client.threads.get(threadId)).thread_id).toBe(threadId);
  });

  it("streams custom events, tasks, debug and checkpoints from a TypeScript graph", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "steps", {
        input: { topic: "tests" },
        streamMode: ["custom", "updates", "tasks", "checkpoints", "debug"],
      }) as AsyncIterable<Chunk>,
    );
    const custom = chunks.filter((c) => c.event === "custom");
    expect(custom.map((c) => c.data)).toEqual([{ progress: "halfway", topic: "tests" }]);
    expect(chunks.filter((c) => c.event === "updates").map((c) => Object.keys(c.data as object)[0])).toEqual([
      "first",
      "second",
      "third",
    ]);
    for (const mode of ["tasks", "checkpoints", "debug"]) expect(chunks.some((c) => c.event === mode)).toBe(true);
    const state = await client.threads.getState<{ trail: string[]; count: number }>(thread.thread_id);
    expect(state.values).toMatchObject({ trail: ["first", "second", "third"], count: 3 });
  });

  it("names subgraph events mode|namespace", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "parent", {
        input: {},
        streamMode: ["updates"],
        streamSubgraphs: true,
      }) as AsyncIterable<Chunk>,
    );
    const sub = chunks.filter((c) => c.event.startsWith("updates|"));
    expect(sub.length).toBeGreaterThanOrEqual(2);
    expect(sub[0]?.event).toMatch(/^updates\|child:/);
    const root = chunks.filter((c) => c.event === "updates").map((c) => Object.keys(c.data as object)[0]);
    expect(root).toEqual(["before", "child", "after"]);
  });

  it("streams chat model tokens as messages-tuple", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "chat", { input: hi("talk"), streamMode: ["messages-tuple"] }) as AsyncIterable<Chunk>,
    );
    const tokens = chunks.filter((c) => c.event === "messages");
    expect(tokens.length).toBeGreaterThan(1);
    const [first, meta] = (tokens[0]?.data ?? []) as [{ content: string; type: string }, { langgraph_node: string }];
    expect(first.type).toMatch(/ai/i);
    expect(meta.langgraph_node).toBe("model");
    const text = tokens.map((t) => (t.data as [{ content: string }])[0].content).join("");
    expect(text).toBe("Hello from the model");
  });

  it("holds a run with after_seconds, then runs it", async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "echo", { input: hi("later"), afterSeconds: 3 });
    expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("pending");
    expect(lastText(await client.runs.join(thread.thread_id, run.run_id))).toBe("You said: later");
  });

  it("takes a command with update and goto", async () => {
    const thread = await client.threads.create();
    const values = await client.runs.wait(thread.thread_id, "steps", { command: { update: { topic: "jumped" }, goto: "third" } });
    expect(values).toMatchObject({ topic: "jumped", trail: ["third"] });
  });

  it("reports a failing run as error on the run and the thread", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "steps", {
        input: { topic: "x" },
        config: { recursion_limit: 1 },
      }) as AsyncIterable<Chunk>,
    );
    const error = chunks.find((c) => c.event === "error");
    expect(error?.data).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    expect((await client.threads.get(thread.thread_id)).status).toBe("error");
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("error");
  });
});

describe("cancel and double-texting", () => {
  const startSlow = async (threadId: string, ticks = 100) => {
    const run = await client.runs.create(threadId, "slow", { input: {}, config: { configurable: { ticks } } });
    await until(
      async () => ((await client.runs.get(threadId, run.run_id)).status === "running" ? true : undefined),
      "the run to start",
    );
    return run;
  };

  it("cancels a running run with wait and keeps it as interrupted", async () => {
    const thread = await client.threads.create();
    const run = await startSlow(thread.thread_id);
    await client.runs.cancel(thread.thread_id, run.run_id, true);
    const after = await client.runs.get(thread.thread_id, run.run_id);
    expect(after.status).toBe("interrupted");
    expect((await client.threads.get(thread.thread_id)).status).not.toBe("busy");
  });

  it("rejects a second run with 409 while the thread is busy", async () => {
    const thread = await client.threads.create();
    const run = await startSlow(thread.thread_id);
    expect(await statusOf(client.runs.create(thread.thread_id, "slow", { input: {}, multitaskStrategy: "reject" }))).toBe(409);
    await client.runs.cancel(thread.thread_id, run.run_id, true);
  });

  it("enqueues by default and runs one after the other", async () => {
    const thread = await client.threads.create();
    const first = await startSlow(thread.thread_id, 5);
    const second = await client.runs.create(thread.thread_id, "slow", { input: {}, config: { configurable: { ticks: 1 } } });
    expect(second.status).toBe("pending");
    await client.runs.join(thread.thread_id, second.run_id);
    const a = await client.runs.get(thread.thread_id, first.run_id);
    const b = await client.runs.get(thread.thread_id, second.run_id);
    expect([a.status, b.status]).toEqual(["success", "success"]);
  });

  it("interrupts the running run for a new one", async () => {
    const thread = await client.threads.create();
    const first = await startSlow(thread.thread_id);
    const second = await client.runs.create(thread.thread_id, "slow", {
      input: {},
      config: { configurable: { ticks: 1 } },
      multitaskStrategy: "interrupt",
    });
    await client.runs.join(thread.thread_id, second.run_id);
    expect((await client.runs.get(thread.thread_id, first.run_id)).status).toBe("interrupted");
    expect((await client.runs.get(thread.thread_id, second.run_id)).status).toBe("success");
  });

  it("rolls the running run back: it and its checkpoints are gone", async () => {
    const thread = await client.threads.create();
    const first = await startSlow(thread.thread_id);
    const second = await client.runs.create(thread.thread_id, "slow", {
      input: {},
      config: { configurable: { ticks: 1 } },
      multitaskStrategy: "rollback",
    });
    await client.runs.join(thread.thread_id, second.run_id);
    expect(await statusOf(client.runs.get(thread.thread_id, first.run_id))).toBe(404);
    const history = await client.threads.getHistory(thread.thread_id, { limit: 50 });
    const runIds = new Set(history.map((s) => (s.metadata as { run_id?: string } | null)?.run_id).filter(Boolean));
    expect(runIds.has(first.run_id)).toBe(false);
  });

  it("cancels many runs at once", async () => {
    const thread = await client.threads.create();
    const run = await startSlow(thread.thread_id);
    await client.runs.cancelMany({ threadId: thread.thread_id, runIds: [run.run_id] });
    await until(
      async () => (["interrupted"].includes((await client.runs.get(thread.thread_id, run.run_id)).status) ? true : undefined),
      "the run to stop",
    );
  });
});

describe("human in the loop and time travel", () => {
  it("pauses on interrupt(), shows it on the thread, and resumes with a command", async () => {
    const thread = await client.threads.create();
    const chunks = await collect(
      client.runs.stream(thread.thread_id, "interrupt", {
        input: { question: "Who are you?" },
        streamMode: ["values", "updates"],
      }) as AsyncIterable<Chunk>,
    );
    const interruptUpdate = chunks.find((c) => c.event === "updates" && "__interrupt__" in (c.data as object));
    expect(interruptUpdate).toBeDefined();
    const paused = await client.threads.get(thread.thread_id);
    expect(paused.status).toBe("interrupted");
    const state = await client.threads.getState(thread.thread_id);
    expect(state.next).toEqual(["ask"]);
    expect(state.tasks[0]?.interrupts[0]?.value).toEqual({ question: "Who are you?" });
    const [run] = await client.runs.list(thread.thread_id);
    expect(run?.status).toBe("success");

    const resumed = await client.runs.wait(thread.thread_id, "interrupt", { command: { resume: "Ada" } });
    expect(resumed).toMatchObject({ answer: "Hello, Ada" });
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
  });

  it("stops at interrupt_before and goes on from there", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "steps", { input: { topic: "bp" }, interruptBefore: ["second"] });
    const paused = await client.threads.getState(thread.thread_id);
    expect(paused.next).toEqual(["second"]);
    expect((await client.threads.get(thread.thread_id)).status).toBe("interrupted");
    const done = await client.runs.wait(thread.thread_id, "steps", { input: null });
    expect(done).toMatchObject({ trail: ["first", "second", "third"] });
  });

  it("keeps history, updates state as a node, and forks from an earlier checkpoint", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "steps", { input: { topic: "tt" } });
    const history = await client.threads.getHistory(thread.thread_id);
    expect(history.length).toBeGreaterThanOrEqual(4);
    const checkpointIds = history.map((s) => s.checkpoint.checkpoint_id);
    expect(new Set(checkpointIds).size).toBe(checkpointIds.length);

    const afterFirst = history.find((s) => s.next[0] === "second");
    expect(afterFirst).toBeDefined();
    const forked = await client.runs.wait(thread.thread_id, "steps", {
      input: null,
      checkpoint: afterFirst?.checkpoint,
    });
    expect(forked).toMatchObject({ trail: ["first", "second", "third"] });

    const update = await client.threads.updateState(thread.thread_id, { values: { topic: "changed" }, asNode: "third" });
    // The SDK types the answer as a config; the server answers {checkpoint}, as upstream does.
    expect((update as unknown as { checkpoint: { checkpoint_id: string } }).checkpoint.checkpoint_id).toMatch(/.+/);
    const state = await client.threads.getState<{ topic: string }>(thread.thread_id);
    expect(state.values.topic).toBe("changed");
    const byId = await client.threads.getState(thread.thread_id, afterFirst?.checkpoint.checkpoint_id ?? undefined);
    expect(byId.next).toEqual(["second"]);
  });
});

describe("stateless runs", () => {
  it("waits on a temporary thread that is deleted afterwards", async () => {
    const before = await client.threads.count();
    const values = await client.runs.wait(null, "echo", { input: hi("stateless") });
    expect(lastText(values)).toBe("You said: stateless");
    expect(await client.threads.count()).toBe(before);
  });

  it("streams and keeps the thread with on_completion=keep", async () => {
    let created: { run_id: string; thread_id?: string } | undefined;
    const chunks = await collect(
      // @ts-expect-error The SDK's types omit onCompletion for stateless runs; the API accepts it and the SDK sends it.
      client.runs.stream(null, "echo", {
        input: hi("keep"),
        onCompletion: "keep",
        onRunCreated: (meta) => {
          created = meta;
        },
      }) as AsyncIterable<Chunk>,
    );
    expect(chunks[0]?.event).toBe("metadata");
    expect(created?.thread_id).toBeDefined();
    const thread = await client.threads.get(created?.thread_id as string);
    expect(lastText(thread.values)).toBe("You said: keep");
  });

  it("creates a batch of runs", async () => {
    const runs = await client.runs.createBatch([
      { assistantId: "echo", input: hi("a") },
      { assistantId: "echo", input: hi("b") },
    ]);
    expect(runs).toHaveLength(2);
    for (const run of runs) expect(run.status).toBe("pending");
  });
});

describe("resumable streams", () => {
  it("resumes a dropped stream after the last event id, and replays everything with -1", async () => {
    const thread = await client.threads.create();
    const run = await client.runs.create(thread.thread_id, "slow", {
      input: {},
      config: { configurable: { ticks: 10 } },
      streamMode: ["custom"],
      streamResumable: true,
    });
    const seen: Chunk[] = [];
    const controller = new AbortController();
    try {
      for await (const chunk of client.runs.joinStream(thread.thread_id, run.run_id, {
        lastEventId: "-1",
        signal: controller.signal,
      }) as AsyncIterable<Chunk>) {
        seen.push(chunk);
        if (chunk.event === "custom" && seen.filter((c) => c.event === "custom").length === 3) controller.abort();
      }
    } catch {
      // the abort ends the first connection
    }
    const lastId = seen.at(-1)?.id;
    expect(lastId).toBeTruthy();
    const rest = await collect(
      client.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: lastId }) as AsyncIterable<Chunk>,
    );
    const ticks = [...seen, ...rest].filter((c) => c.event === "custom").map((c) => (c.data as { tick: number }).tick);
    expect(ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const replay = await collect(
      client.runs.joinStream(thread.thread_id, run.run_id, { lastEventId: "-1" }) as AsyncIterable<Chunk>,
    );
    expect(replay[0]?.event).toBe("metadata");
    expect(replay.filter((c) => c.event === "custom")).toHaveLength(10);
  });
});
