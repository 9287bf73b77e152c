import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

type Chunk = { event: string; data: unknown; id?: string };
type ThreadStreamMode = "run_modes" | "lifecycle" | "state_update";

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });

const lastText = (values: unknown) => {
  const messages = (values as { messages?: Array<{ content: unknown }> }).messages ?? [];
  return messages.at(-1)?.content;
};

/** Orders "ms-seq" event ids. */
const compareIds = (a: string, b: string) => {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am !== bm ? am - bm : as - bs;
};

const runIdOf = (chunk: Chunk | undefined) => (chunk?.data as { run_id?: string } | null)?.run_id;

// The thread log is kept by both Signals implementations: Redis, and in-process for one machine.
describe.each([
  { signals: "Redis", redis: true },
  { signals: "in-process", redis: false },
])("thread streams with $signals signals", ({ redis }) => {
  let stack: TestStack;
  let client: Client;
  /** Resolves the next time a thread stream's answer arrives (its headers), i.e. once it is reading. */
  let connected: () => Promise<void>;

  beforeAll(async () => {
    stack = await startTestStack(TEST_GRAPHS, { redis });
    let notify: () => void = () => {};
    connected = () => new Promise<void>((resolve) => (notify = resolve));
    const observed: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (/\/threads\/[^/]+\/stream(\?|$)/.test(String(input))) notify();
      return res;
    };
    client = new Client({ apiUrl: stack.url, callerOptions: { fetch: observed } });
  }, 90_000);
  afterAll(() => stack?.stop());

  /**
   * Reads a thread stream in the background until `done` says so (then leaves, as a client
   * does), or until the timeout. `ready` resolves once the stream is reading.
   */
  const follow = (
    threadId: string,
    options: { lastEventId?: string; streamMode?: ThreadStreamMode | ThreadStreamMode[] },
    done: (chunks: Chunk[]) => boolean,
    timeoutMs = 20_000,
  ) => {
    const abort = new AbortController();
    const chunks: Chunk[] = [];
    const ready = connected();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    const finished = (async () => {
      try {
        for await (const chunk of client.threads.joinStream(threadId, { ...options, signal: abort.signal })) {
          chunks.push(chunk as Chunk);
          if (done(chunks)) break;
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
      return chunks;
    })();
    return { ready, chunks: finished, timedOut: () => timedOut };
  };

  const ends = (n: number) => (chunks: Chunk[]) => chunks.filter((c) => c.event === "end").length >= n;

  it("carries the events of consecutive runs in order on one open stream, from now on", async () => {
    const thread = await client.threads.create();
    const before = await client.runs.create(thread.thread_id, "echo", { input: hi("earlier") });
    await client.runs.join(thread.thread_id, before.run_id);

    const stream = follow(thread.thread_id, {}, ends(2));
    await stream.ready;
    const first = await client.runs.create(thread.thread_id, "echo", { input: hi("one"), streamMode: ["values", "updates"] });
    const second = await client.runs.create(thread.thread_id, "echo", { input: hi("two"), multitaskStrategy: "enqueue" });
    const chunks = await stream.chunks;

    // Both runs, one after the other, each from its metadata to its end; nothing of the earlier run.
    const metadata = chunks.filter((c) => c.event === "metadata").map(runIdOf);
    expect(metadata).toEqual([first.run_id, second.run_id]);
    const endOfFirst = chunks.findIndex((c) => c.event === "end");
    expect(chunks[0]?.event).toBe("metadata");
    expect(runIdOf(chunks[endOfFirst])).toBe(first.run_id);
    expect(chunks[endOfFirst + 1]?.event).toBe("metadata");
    expect(runIdOf(chunks.at(-1))).toBe(second.run_id);
    expect(chunks.at(-1)?.data).toMatchObject({ status: "success" });
    // The run streams as created: the first with values and updates, the second with values only.
    const firstEvents = chunks.slice(0, endOfFirst + 1).map((c) => c.event);
    expect(firstEvents).toContain("updates");
    expect(chunks.slice(endOfFirst + 1).map((c) => c.event)).not.toContain("updates");
    const values = chunks.filter((c) => c.event === "values");
    expect(lastText(values.at(-1)?.data)).toBe("You said: two");
    // Every event has an id of the thread's stream, strictly increasing.
    const ids = chunks.map((c) => c.id ?? "");
    for (const [i, id] of ids.entries()) {
      expect(id).toMatch(/^\d+-\d+$/);
      if (i > 0) expect(compareIds(ids[i - 1] as string, id)).toBeLessThan(0);
    }
  });

  it("shows only run starts and ends in lifecycle mode", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, { streamMode: "lifecycle" }, (c) => c.length >= 4);
    await stream.ready;
    const done = await client.runs.create(thread.thread_id, "echo", { input: hi("one") });
    const cancelled = await client.runs.create(thread.thread_id, "slow", { input: {}, config: { configurable: { ticks: 100 } } });
    // Cancel the slow run once it is running.
    for (let i = 0; i < 200 && (await client.runs.get(thread.thread_id, cancelled.run_id)).status !== "running"; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.runs.cancel(thread.thread_id, cancelled.run_id, true);
    const chunks = await stream.chunks;

    expect(chunks.map((c) => c.event)).toEqual(["lifecycle", "lifecycle", "lifecycle", "lifecycle"]);
    expect(chunks.map((c) => c.data)).toEqual([
      { run_id: done.run_id, thread_id: thread.thread_id, event: "started", status: "running", attempt: 1, namespace: [] },
      { run_id: done.run_id, thread_id: thread.thread_id, event: "completed", status: "success", namespace: [] },
      { run_id: cancelled.run_id, thread_id: thread.thread_id, event: "started", status: "running", attempt: 1, namespace: [] },
      { run_id: cancelled.run_id, thread_id: thread.thread_id, event: "interrupted", status: "interrupted", namespace: [] },
    ]);
    for (const c of chunks) expect(c.id).toMatch(/^\d+-\d+$/);
  });

  it("shows the thread's state after each run in state_update mode", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, { streamMode: "state_update" }, (c) => c.length >= 2);
    await stream.ready;
    await client.runs.create(thread.thread_id, "echo", { input: hi("one") });
    await client.runs.create(thread.thread_id, "echo", { input: hi("two"), multitaskStrategy: "enqueue" });
    const chunks = await stream.chunks;

    expect(chunks.map((c) => c.event)).toEqual(["values", "values"]);
    expect(lastText(chunks[0]?.data)).toBe("You said: one");
    expect(lastText(chunks[1]?.data)).toBe("You said: two");
    expect((chunks[1]?.data as { messages?: unknown[] } | undefined)?.messages).toHaveLength(4);
    // The same replayed, with several modes at once.
    const both = await follow(
      thread.thread_id,
      { lastEventId: "-", streamMode: ["lifecycle", "state_update"] },
      (c) => c.length >= 6,
    ).chunks;
    expect(both.map((c) => c.event)).toEqual(["lifecycle", "lifecycle", "values", "lifecycle", "lifecycle", "values"]);
    expect(lastText(both[2]?.data)).toBe("You said: one");
    expect(lastText(both[5]?.data)).toBe("You said: two");
  });

  it("replays everything with '-' and resumes strictly after another id, losing and repeating nothing", async () => {
    const thread = await client.threads.create();
    const live = follow(thread.thread_id, {}, ends(1));
    await live.ready;
    // @ts-expect-error The SDK's types omit streamMode on wait; the API accepts it and the SDK sends it.
    await client.runs.wait(thread.thread_id, "echo", { input: hi("one"), streamMode: ["values", "updates"] });
    const seen = await live.chunks;
    expect(seen.at(-1)?.event).toBe("end");

    // Gone: a second run happens meanwhile.
    // @ts-expect-error As above.
    await client.runs.wait(thread.thread_id, "echo", { input: hi("two"), streamMode: ["values", "updates"] });

    const resumed = await follow(thread.thread_id, { lastEventId: seen.at(-1)?.id }, ends(1)).chunks;
    expect(resumed[0]?.event).toBe("metadata");
    expect(resumed.at(-1)?.event).toBe("end");
    const all = await follow(thread.thread_id, { lastEventId: "-" }, ends(2)).chunks;
    expect(all).toEqual([...seen, ...resumed]);

    // From the middle of the first run: exactly the rest.
    const middle = Math.floor(seen.length / 2);
    const rest = await follow(thread.thread_id, { lastEventId: all[middle]?.id }, ends(2)).chunks;
    expect(rest).toEqual(all.slice(middle + 1));
    // "-1" (the run streams' word for the start) replays as well.
    expect(await follow(thread.thread_id, { lastEventId: "-1" }, ends(2)).chunks).toEqual(all);
  });

  it("stays open while idle and ends when its thread is deleted", async () => {
    const thread = await client.threads.create();
    const stream = follow(thread.thread_id, { streamMode: "lifecycle" }, () => false, 30_000);
    await stream.ready;
    // Longer than one read of the log waits before it looks again.
    await new Promise((r) => setTimeout(r, 5_500));
    await client.runs.wait(thread.thread_id, "echo", { input: hi("late") });
    const deletedAt = Date.now();
    await client.threads.delete(thread.thread_id);
    const chunks = await stream.chunks;
    expect(stream.timedOut()).toBe(false);
    // Deleting the thread wakes its streams, which end at once (cleanly: the SDK does not reconnect).
    expect(Date.now() - deletedAt).toBeLessThan(2_000);
    expect(chunks.map((c) => (c.data as { event: string }).event)).toEqual(["started", "completed"]);
  }, 40_000);

  it("answers 404 for an unknown thread and 422 for bad input, before any event", async () => {
    expect(await statusOf(follow(crypto.randomUUID(), {}, () => true).chunks)).toBe(404);
    const thread = await client.threads.create();
    const bad = [
      [`/threads/${thread.thread_id}/stream?stream_mode=values`, {}],
      [`/threads/${thread.thread_id}/stream?stream_modes=${encodeURIComponent('["lifecycle","nope"]')}`, {}],
      [`/threads/not-a-uuid/stream`, {}],
      [`/threads/${thread.thread_id}/stream`, { "last-event-id": "abc" }],
    ] as const;
    for (const [path, headers] of bad) {
      const res = await fetch(`${stack.url}${path}`, { headers });
      expect(res.status, path).toBe(422);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(((await res.json()) as { detail: string }).detail).toBeTruthy();
    }
    // Nothing was written: the thread is untouched and its stream holds no event.
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    expect(await follow(thread.thread_id, { lastEventId: "-" }, () => true, 1_000).chunks).toEqual([]);
  });

  it("accepts stream_modes (the spec) as well as stream_mode, as a JSON list too, and answers with Location", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "echo", { input: hi("one") });
    for (const query of [
      `stream_modes=lifecycle`,
      `stream_modes=${encodeURIComponent('["lifecycle"]')}`,
      `stream_mode=lifecycle&stream_mode=lifecycle`,
    ]) {
      const path = `/threads/${thread.thread_id}/stream?${query}`;
      const abort = new AbortController();
      const res = await fetch(`${stack.url}${path}`, { headers: { "last-event-id": "-" }, signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream");
      expect(res.headers.get("location")).toBe(path);
      const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while ((text.match(/event: lifecycle/g) ?? []).length < 2) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      abort.abort();
      expect(text).not.toContain("event: metadata");
      expect(text).toMatch(/event: lifecycle\ndata: \{[^\n]*"event":"completed"[^\n]*\}\nid: \d+-\d+\n/);
    }
  });
});
