import { randomUUID } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";

// Protocol v2 (the thread-centric streaming protocol): the SDK's v2 client end to end, and the
// raw HTTP contract of POST /threads/{id}/commands and POST /threads/{id}/stream/events.

let stack: TestStack;
/** The SDK with protocol v2 switched on. */
let client: Client;
/** The SDK's REST calls, to check what the v2 commands did. */
let rest: Client;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS);
  client = new Client({ apiUrl: stack.url, streamProtocol: "v2" });
  rest = new Client({ apiUrl: stack.url });
}, 90_000);
afterAll(() => stack?.stop());

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });

/** A fetch that records the method, path and body of each request. */
function recorder() {
  const requests: Array<{ method: string; path: string; body: unknown }> = [];
  const fetcher: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    requests.push({ method: init?.method ?? "GET", path: url.pathname, body });
    return fetch(input, init);
  };
  return { requests, fetcher };
}

interface Frame {
  event?: string;
  id?: string;
  data: {
    type: string;
    event_id: string;
    seq: number;
    method: string;
    params: { namespace: string[]; timestamp: number; node?: string; data: Record<string, unknown> };
  };
}

/** POSTs a command envelope (or any body) to the thread's commands endpoint. */
async function command(threadId: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.url}/threads/${threadId}/commands`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Opens a v2 event stream and reads its frames until `done` says so (or the timeout), then
 * leaves. `opened` resolves once the answer's headers are in, i.e. once the stream reads.
 */
function openEvents(threadId: string, body: unknown, done: (frames: Frame[]) => boolean, timeoutMs = 20_000) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let markOpened: (res: Response) => void = () => {};
  const opened = new Promise<Response>((resolve) => (markOpened = resolve));
  const frames = (async () => {
    const out: Frame[] = [];
    try {
      const res = await fetch(`${stack.url}/threads/${threadId}/stream/events`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: abort.signal,
      });
      markOpened(res);
      if (!res.ok || res.body === null) return out;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      while (!done(out)) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          const frame: Partial<Frame> & { dataLines: string[] } = { dataLines: [] };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, "");
            if (field === "event") frame.event = value;
            else if (field === "id") frame.id = value;
            else if (field === "data") frame.dataLines.push(value);
          }
          if (frame.dataLines.length > 0)
            out.push({ event: frame.event, id: frame.id, data: JSON.parse(frame.dataLines.join("\n")) });
        }
      }
      return out;
    } catch (err) {
      if (!abort.signal.aborted) throw err;
      return out;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  })();
  return { opened, frames };
}

const lifecycle = (frames: Frame[]) =>
  frames.filter((f) => f.data.method === "lifecycle" && f.data.params.namespace.length === 0);
const terminals = (n: number) => (frames: Frame[]) =>
  lifecycle(frames).filter((f) => ["completed", "failed", "interrupted"].includes(String(f.data.params.data.event))).length >= n;

describe("the SDK's v2 client", () => {
  it("starts a run with run.start and streams its messages and values", async () => {
    const { requests, fetcher } = recorder();
    const thread = client.threads.stream({ assistantId: "chat", fetch: fetcher });
    // The run-start gate holds the subscriptions made meanwhile until the (new) thread exists.
    const started = thread.run.start({ input: hi("hi") });
    const messages = thread.messages;
    const run = await started;
    expect(run.run_id).toMatch(/^[0-9a-f-]{36}$/);

    const texts: string[] = [];
    const ids: string[] = [];
    for await (const message of messages) {
      ids.push(message.id ?? "");
      texts.push(await message.text);
    }
    expect(texts).toEqual(["Hello from the model"]);

    const snapshots: unknown[] = [];
    for await (const values of thread.values) snapshots.push(values);
    const output = (await thread.output) as { messages: Array<{ content: unknown; id?: string }> };
    expect(output.messages.map((m) => m.content)).toEqual(["hi", "Hello from the model"]);
    expect(output.messages.at(-1)?.id).toBe(ids[0]);
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(thread.interrupted).toBe(false);
    await thread.close();

    // The thread was created by run.start, and the run went through the ordinary run machinery.
    expect((await rest.runs.get(thread.threadId ?? "", run.run_id ?? "")).status).toBe("success");
    expect((await rest.threads.get(thread.threadId)).metadata).toMatchObject({ graph_id: "chat" });
    const commands = requests.filter((r) => r.path.endsWith("/commands"));
    expect(commands[0]).toMatchObject({
      method: "POST",
      path: `/threads/${thread.threadId}/commands`,
      body: { method: "run.start", params: { assistant_id: "chat", input: hi("hi") } },
    });
    const streams = requests.filter((r) => r.path.endsWith("/stream/events"));
    expect(streams.length).toBeGreaterThanOrEqual(1);
    const filter = streams.at(-1)?.body as { channels: string[] } | undefined;
    expect(filter?.channels).toEqual(expect.arrayContaining(["messages", "values", "lifecycle"]));
  });

  it("reports an interrupt and answers it with input.respond", async () => {
    const thread = client.threads.stream({ assistantId: "interrupt" });
    await thread.run.start({ input: { question: "Your name?" } });
    const before = await thread.output;
    expect(before).toEqual({ question: "Your name?" });
    expect(thread.interrupted).toBe(true);
    expect(thread.interrupts).toEqual([
      { interruptId: expect.stringMatching(/^[0-9a-f]{32}$/), payload: { question: "Your name?" }, namespace: [] },
    ]);
    const pending = await rest.threads.get(thread.threadId);
    expect(pending.status).toBe("interrupted");

    // The SDK forgets the interrupts it answers.
    const interruptId = thread.interrupts[0]?.interruptId ?? "";
    await thread.input.respond({ namespace: [], interrupt_id: interruptId, response: "Ada" });
    expect(thread.interrupts).toEqual([]);
    const [resumed] = await rest.runs.list(thread.threadId, { limit: 1 });
    // The SDK's Run type does not declare kwargs; the server answers them (as upstream does).
    expect((resumed as { kwargs?: unknown } | undefined)?.kwargs).toMatchObject({
      command: { resume: { [interruptId]: "Ada" } },
    });
    await rest.runs.join(thread.threadId, resumed?.run_id ?? "");
    expect((await rest.threads.getState(thread.threadId)).values).toEqual({ question: "Your name?", answer: "Hello, Ada" });
    expect((await rest.threads.get(thread.threadId)).status).toBe("idle");
    await thread.close();
  });

  it("describes the thread's graph with agent.getTree", async () => {
    const thread = client.threads.stream({ assistantId: "echo" });
    await thread.run.start({ input: hi("tree") });
    await thread.output;
    const result = (await thread.agent.getTree()) as unknown as {
      tree: { namespace: string[]; status: string; graph_name: string; metadata: { graph: { nodes: Array<{ id: string }> } } };
    };
    expect(result.tree).toMatchObject({ namespace: [], status: "completed", graph_name: "echo" });
    expect(result.tree.metadata.graph.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(["__start__", "reply", "__end__"]));
    await thread.close();
  });
});

describe("POST /threads/{thread_id}/commands", () => {
  it("answers 400 for an envelope it cannot read", async () => {
    const thread = randomUUID();
    for (const body of [
      "{not json",
      "",
      "[1]",
      { method: "run.start" },
      { id: -1, method: "run.start" },
      { id: 1.5, method: "x" },
    ]) {
      const res = await command(thread, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ type: "error", id: null, error: "invalid_argument" });
      expect(res.body.message).toEqual(expect.any(String));
    }
    // A readable id is echoed even when the rest of the envelope is wrong.
    expect(await command(thread, { id: 4, params: {} })).toMatchObject({
      status: 400,
      body: { type: "error", id: 4, error: "invalid_argument" },
    });
    expect(await command(thread, { id: 5, method: "run.start", params: "x" })).toMatchObject({ status: 400, body: { id: 5 } });
    // The path is checked as everywhere else.
    expect((await command("not-a-uuid", { id: 1, method: "run.start", params: {} })).status).toBe(422);
  });

  it("answers protocol errors with HTTP 200", async () => {
    const thread = randomUUID();
    expect(await command(thread, { id: 7, method: "no.such.method" })).toEqual({
      status: 200,
      body: { type: "error", id: 7, error: "unknown_command", message: "Unknown protocol command: no.such.method" },
    });
    expect(await command(thread, { id: 8, method: "subscription.subscribe", params: { channels: ["values"] } })).toMatchObject({
      status: 200,
      body: { type: "error", id: 8, error: "not_supported" },
    });
    const noAssistant = await command(thread, { id: 9, method: "run.start", params: { input: {} } });
    expect(noAssistant).toMatchObject({ status: 200, body: { type: "error", id: 9, error: "invalid_argument" } });
    expect(noAssistant.body.message).toMatch(/assistant_id/);
    const unknownGraph = await command(thread, { id: 10, method: "run.start", params: { assistant_id: "no-such-graph" } });
    expect(unknownGraph).toMatchObject({ status: 200, body: { type: "error", id: 10, error: "invalid_argument" } });
    const badConfig = await command(thread, { id: 11, method: "run.start", params: { assistant_id: "echo", config: "x" } });
    expect(badConfig).toMatchObject({ status: 200, body: { type: "error", id: 11, error: "invalid_argument" } });
    expect(badConfig.body.message).toMatch(/'config'/);
    // Nothing was created by the refused commands.
    expect(
      (await command(thread, { id: 12, method: "input.respond", params: { interrupt_id: "x", response: 1 } })).body,
    ).toMatchObject({
      type: "error",
      id: 12,
      error: "no_such_run",
    });
    expect((await command(thread, { id: 13, method: "agent.getTree", params: {} })).body).toMatchObject({ error: "no_such_run" });
  });

  it("starts runs, resumes an interrupted thread with run.start, and checks input.respond's interrupt ids", async () => {
    const thread = randomUUID();
    const started = await command(thread, {
      id: 1,
      method: "run.start",
      params: { assistant_id: "interrupt", input: { question: "Who?" } },
    });
    expect(started).toMatchObject({
      status: 200,
      body: { type: "success", id: 1, result: { run_id: expect.any(String), thread_id: thread } },
    });
    const runId = (started.body.result as { run_id: string }).run_id;
    await rest.runs.join(thread, runId);
    expect((await rest.threads.get(thread)).status).toBe("interrupted");

    const unknown = await command(thread, {
      id: 2,
      method: "input.respond",
      params: { interrupt_id: "0".repeat(32), response: "x" },
    });
    expect(unknown.body).toMatchObject({ type: "error", id: 2, error: "no_such_interrupt" });

    // On an interrupted thread, run.start's input is the resume value.
    const resumed = await command(thread, { id: 3, method: "run.start", params: { assistant_id: "interrupt", input: "Bob" } });
    expect(resumed.body).toMatchObject({ type: "success", id: 3 });
    await rest.runs.join(thread, (resumed.body.result as { run_id: string }).run_id);
    expect((await rest.threads.getState(thread)).values).toEqual({ question: "Who?", answer: "Hello, Bob" });

    const notInterrupted = await command(thread, {
      id: 4,
      method: "input.respond",
      params: { interrupt_id: "x", response: "y" },
    });
    expect(notInterrupted.body).toMatchObject({ type: "error", id: 4, error: "invalid_argument" });
    const state = await command(thread, { id: 5, method: "state.get", params: { namespace: [], keys: ["answer"] } });
    expect(state.body).toMatchObject({
      type: "success",
      id: 5,
      result: { values: { answer: "Hello, Bob" }, checkpoint: { id: expect.any(String) } },
    });
  });
});

describe("POST /threads/{thread_id}/stream/events", () => {
  const ALL = ["values", "updates", "messages", "tools", "lifecycle", "input", "tasks", "custom"];

  it("streams a run live as v2 frames numbered by seq, and replays the same numbering after `since`", async () => {
    const thread = (await rest.threads.create()).thread_id;
    // A stream opened before any run stays idle, then carries the run as it happens.
    const live = openEvents(thread, { channels: ALL }, terminals(1));
    expect((await live.opened).headers.get("content-type")).toBe("text/event-stream");
    const started = await command(thread, { id: 1, method: "run.start", params: { assistant_id: "echo", input: hi("hello") } });
    const runId = (started.body.result as { run_id: string }).run_id;
    const frames = await live.frames;

    for (const [i, frame] of frames.entries()) {
      expect(frame.data.type).toBe("event");
      expect(frame.event).toBe(frame.data.method);
      expect(frame.id).toBe(String(frame.data.seq));
      expect(frame.data.event_id).toBe(String(frame.data.seq));
      expect(frame.data.params.timestamp).toEqual(expect.any(Number));
      if (i > 0) expect(frame.data.seq).toBeGreaterThan(frames[i - 1]?.data.seq ?? 0);
    }
    expect(frames[0]?.data).toMatchObject({
      seq: 1,
      method: "lifecycle",
      params: { namespace: [], data: { event: "running", run_id: runId } },
    });
    expect(frames.at(-1)?.data).toMatchObject({ method: "lifecycle", params: { data: { event: "completed", run_id: runId } } });
    const methods = new Set(frames.map((f) => f.data.method));
    expect([...methods]).toEqual(expect.arrayContaining(["lifecycle", "values", "updates", "messages", "tasks"]));
    const messageEvents = frames.filter((f) => f.data.method === "messages").map((f) => f.data.params.data);
    expect(messageEvents.map((d) => d.event)).toEqual([
      "message-start",
      "content-block-start",
      "content-block-delta",
      "content-block-finish",
      "message-finish",
    ]);
    expect(messageEvents[0]).toMatchObject({ role: "ai", id: expect.any(String) });
    expect(messageEvents[3]).toMatchObject({ content: { type: "text", text: "You said: hello" } });
    expect(frames.find((f) => f.data.method === "messages")?.data.params.node).toBe("reply");
    expect(frames.find((f) => f.data.method === "updates")?.data.params).toMatchObject({
      node: "reply",
      data: { node: "reply" },
    });

    // Another connection gets the same events with the same numbers, filtered to its channels.
    const filtered = await openEvents(thread, { channels: ["values", "lifecycle"] }, terminals(1)).frames;
    const expected = frames.filter((f) => ["values", "lifecycle"].includes(f.data.method));
    expect(filtered.map((f) => f.data)).toEqual(expected.map((f) => f.data));

    // `since` resumes strictly after a seq.
    const middle = frames[Math.floor(frames.length / 2)]?.data.seq ?? 0;
    const resumed = await openEvents(thread, { channels: ALL, since: middle }, terminals(1)).frames;
    expect(resumed.map((f) => f.data)).toEqual(frames.filter((f) => f.data.seq > middle).map((f) => f.data));

    // A second run continues the numbering; `since` the first run's end gives only the second.
    const lastSeq = frames.at(-1)?.data.seq ?? 0;
    const next = await command(thread, { id: 2, method: "run.start", params: { assistant_id: "echo", input: hi("again") } });
    await rest.runs.join(thread, (next.body.result as { run_id: string }).run_id);
    const second = await openEvents(thread, { channels: ["lifecycle"], since: lastSeq }, terminals(1)).frames;
    expect(second.map((f) => f.data.params.data.event)).toEqual(["running", "completed"]);
    expect(second[0]?.data.seq).toBeGreaterThan(lastSeq);
  });

  it("filters by namespace and depth, with subgraph lifecycles", async () => {
    const thread = (await rest.threads.create()).thread_id;
    const started = await command(thread, { id: 1, method: "run.start", params: { assistant_id: "parent", input: {} } });
    await rest.runs.join(thread, (started.body.result as { run_id: string }).run_id);

    const all = await openEvents(thread, { channels: ["lifecycle", "updates"] }, terminals(1)).frames;
    const child = all.filter((f) => f.data.params.namespace.length > 0);
    expect(child.length).toBeGreaterThan(0);
    expect(child.every((f) => f.data.params.namespace[0]?.startsWith("child:"))).toBe(true);
    const childLifecycle = child.filter((f) => f.data.method === "lifecycle").map((f) => f.data.params.data);
    expect(childLifecycle).toEqual([
      { event: "started", graph_name: "child" },
      { event: "completed", graph_name: "child" },
    ]);

    const rootOnly = await openEvents(thread, { channels: ["lifecycle", "updates"], depth: 0 }, terminals(1)).frames;
    expect(rootOnly.map((f) => f.data)).toEqual(all.filter((f) => f.data.params.namespace.length === 0).map((f) => f.data));

    const childOnly = await openEvents(thread, { channels: ["updates"], namespaces: [["child"]] }, (f) => f.length >= 2).frames;
    expect(childOnly.map((f) => f.data.params.data.node)).toEqual(["inner_a", "inner_b"]);
  });

  it("answers 400 for a body it cannot read and 404 for a missing thread", async () => {
    const thread = (await rest.threads.create()).thread_id;
    const post = (threadId: string, body: string) =>
      fetch(`${stack.url}/threads/${threadId}/stream/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    for (const body of [
      "{nope",
      "",
      "{}",
      '{"channels": []}',
      '{"channels": ["nonsense"]}',
      '{"channels": ["values"], "since": -1}',
    ]) {
      const res = await post(thread, body);
      expect(res.status, body).toBe(400);
      expect(await res.json()).toEqual({ detail: expect.any(String) });
    }
    const missing = await post(randomUUID(), '{"channels": ["values"]}');
    expect(missing.status).toBe(404);
    expect((await post("nope", '{"channels": ["values"]}')).status).toBe(422);
    // Named custom channels are accepted.
    const named = openEvents(thread, { channels: ["custom:progress"] }, () => true, 1_000);
    expect((await named.opened).status).toBe(200);
    await named.frames;
  });
});

// The thread log is kept by both Signals implementations; the one-machine mode keeps it in-process.
describe("with in-process signals (no Redis)", () => {
  let local: TestStack;
  beforeAll(async () => {
    local = await startTestStack(TEST_GRAPHS, { redis: false });
  }, 90_000);
  afterAll(() => local?.stop());

  it("streams a run through the SDK's v2 client and resumes after `since`", async () => {
    const v2 = new Client({ apiUrl: local.url, streamProtocol: "v2" });
    const thread = v2.threads.stream({ assistantId: "chat" });
    const started = thread.run.start({ input: hi("hi") });
    const messages = thread.messages;
    await started;
    const texts: string[] = [];
    for await (const message of messages) texts.push(await message.text);
    expect(texts).toEqual(["Hello from the model"]);
    await thread.close();

    const read = async (body: unknown) => {
      const res = await fetch(`${local.url}/threads/${thread.threadId}/stream/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = "";
      while (!text.includes('"event":"completed"')) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await reader.cancel();
      return [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    };
    const seqs = await read({ channels: ["lifecycle", "messages"] });
    expect(seqs.length).toBeGreaterThan(4);
    const since = seqs[2] ?? 0;
    expect(await read({ channels: ["lifecycle", "messages"], since })).toEqual(seqs.filter((s) => s > since));
  });
});
