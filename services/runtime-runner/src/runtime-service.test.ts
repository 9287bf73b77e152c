import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createHandlerContext } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, errorInfo, Reason } from "@langopen/common";
import { CheckpointService, GetCheckpointResponseSchema } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { Durability } from "@langopen/gen/langopen/data/v1/run_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import {
  CallErrorSchema,
  type ExecuteRequestSchema,
  ExecuteRunRequestSchema,
  RunOutcome,
  RuntimeService,
} from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "./compose.js";
import { RemoteStore } from "./remote/store.js";
import { createRuntimeServiceImpl } from "./rpc/runtime-service.js";
import { type MemoryDataPlane, startMemoryDataPlane } from "./test-fixtures/memory-data-plane.js";
import { executeRun, json, named, parse, parseState, type SchemasJson } from "./test-fixtures/run-helpers.js";

const CONFIG = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

let dataPlane: MemoryDataPlane;
let runtime: Runtime;
let client: ReturnType<typeof createClient<typeof RuntimeService>>;

beforeAll(async () => {
  dataPlane = await startMemoryDataPlane(logger);
  runtime = await startRuntime({ configPath: CONFIG, host: "127.0.0.1", port: 0, apiServerUrl: dataPlane.url }, logger);
  client = createClient(RuntimeService, createGrpcTransport({ baseUrl: runtime.rpc.url }));
});

afterAll(async () => {
  await runtime?.stop(500);
  await dataPlane?.stop();
});

const human = (content: string) => ({ messages: [{ type: "human", content }] });

describe("ExecuteRun", () => {
  it("streams values with messages as plain dicts and ends with the final state", async () => {
    const threadId = randomUUID();
    const run = await executeRun(client, { graphId: "echo", threadId, spec: { inputJson: json(human("hello")) } });
    expect(run.outcome).toBe("SUCCESS");
    expect(run.events.every((e) => e.id === "")).toBe(true);
    expect(run.events.map((e) => e.event)).toEqual(["values", "values"]);
    const last = run.events.at(-1)?.data as { messages: Array<Record<string, unknown>> };
    expect(last.messages.map((m) => [m.type, m.content])).toEqual([
      ["human", "hello"],
      ["ai", "You said: hello"],
    ]);
    const ai = last.messages[1] as Record<string, unknown>;
    expect(ai).toMatchObject({
      additional_kwargs: {},
      response_metadata: {},
      tool_calls: [],
      invalid_tool_calls: [],
      name: null,
    });
    expect(typeof ai.id).toBe("string");
    expect(JSON.stringify(run.events)).not.toContain('"lc":1');
    expect(run.values).toEqual(last);
    expect(run.result.hasNext).toBe(false);
    expect(run.interrupts).toEqual({});
  });

  it("streams updates and custom events, loading a TypeScript graph", async () => {
    const run = await executeRun(client, {
      graphId: "steps",
      threadId: randomUUID(),
      spec: { inputJson: json({ topic: "tea" }), streamModes: ["updates", "custom"] },
    });
    expect(run.events.map((e) => e.event)).toEqual(["updates", "custom", "updates", "updates"]);
    expect(named(run.events, "updates")).toEqual([
      { first: { trail: ["first"], count: 1 } },
      { second: { trail: ["second"], count: 2 } },
      { third: { trail: ["third"], count: 3 } },
    ]);
    expect(named(run.events, "custom")).toEqual([{ progress: "halfway", topic: "tea" }]);
    expect(run.values).toEqual({ topic: "tea", trail: ["first", "second", "third"], count: 3 });
    // The third node wrote to the long-term store through the run's store.
    const store = new RemoteStore({ client: createClient(StoreService, createGrpcTransport({ baseUrl: dataPlane.url })) });
    expect((await store.get(["steps"], "tea"))?.value).toEqual({ count: 3 });
  });

  it("keeps an ephemeral run's checkpoints in memory: nothing reaches the data plane, the end state is still known", async () => {
    const threadId = randomUUID();
    const run = await executeRun(client, {
      graphId: "interrupt",
      threadId,
      ephemeral: true,
      spec: { inputJson: json({ question: "Who are you?" }), streamModes: ["values"] },
    });
    expect(run.outcome).toBe("SUCCESS");
    expect(run.result.hasNext).toBe(true);
    expect(run.values).toEqual({ question: "Who are you?" });
    expect(Object.values(run.interrupts)[0]).toEqual([{ id: expect.any(String), value: { question: "Who are you?" } }]);
    expect(dataPlane.writes.filter((w) => w.threadId === threadId)).toEqual([]);
    expect(dataPlane.checkpointsOf(threadId)).toEqual([]);
  });

  it("repeats writes the data plane could not make for a moment, and the run goes on", async () => {
    const threadId = randomUUID();
    dataPlane.failWrites(threadId, 3);
    const run = await executeRun(client, { graphId: "steps", threadId, spec: { inputJson: json({ topic: "outage" }) } });
    expect(run.outcome).toBe("SUCCESS");
    expect(run.values).toMatchObject({ trail: ["first", "second", "third"], count: 3 });
    expect(dataPlane.checkpointsOf(threadId).length).toBeGreaterThanOrEqual(4);
  });

  it("pauses on interrupt() and resumes with a command", async () => {
    const threadId = randomUUID();
    const first = await executeRun(client, {
      graphId: "interrupt",
      threadId,
      spec: { inputJson: json({ question: "Who are you?" }), streamModes: ["values", "updates"] },
    });
    expect(first.outcome).toBe("SUCCESS");
    const interruptValue = { question: "Who are you?" };
    expect(named(first.events, "updates").at(-1)).toEqual({ __interrupt__: [{ id: expect.any(String), value: interruptValue }] });
    expect(named(first.events, "values").at(-1)).toEqual({ __interrupt__: [{ id: expect.any(String), value: interruptValue }] });
    expect(first.result.hasNext).toBe(true);
    expect(first.values).toEqual({ question: "Who are you?" });
    const [taskId, interrupts] = Object.entries(first.interrupts)[0] ?? [];
    expect(typeof taskId).toBe("string");
    expect(interrupts).toEqual([{ id: expect.any(String), value: interruptValue }]);

    const state = parse((await client.getState({ graphId: "interrupt", threadId })).stateJson) as Record<string, unknown>;
    expect(state).toMatchObject({ next: ["ask"], interrupts: [{ value: interruptValue }], values: { question: "Who are you?" } });

    const second = await executeRun(client, { graphId: "interrupt", threadId, spec: { commandJson: json({ resume: "Ada" }) } });
    expect(second.outcome).toBe("SUCCESS");
    expect(second.values).toEqual({ question: "Who are you?", answer: "Hello, Ada" });
    expect(second.result.hasNext).toBe(false);
  });

  it("names subgraph events <mode>|<ns> when asked for subgraphs", async () => {
    const run = await executeRun(client, {
      graphId: "parent",
      threadId: randomUUID(),
      spec: { inputJson: json({}), streamModes: ["updates"], streamSubgraphs: true },
    });
    const names = run.events.map((e) => e.event);
    expect(names[0]).toBe("updates");
    const nested = names.filter((n) => n.startsWith("updates|"));
    expect(nested).toHaveLength(2);
    expect(nested[0]).toMatch(/^updates\|child:[0-9a-f-]+$/);
    expect(run.values).toEqual({ log: ["before", "inner_a", "inner_b", "after"] });

    const flat = await executeRun(client, {
      graphId: "parent",
      threadId: randomUUID(),
      spec: { inputJson: json({}), streamModes: ["updates"] },
    });
    expect(flat.events.map((e) => e.event)).toEqual(["updates", "updates", "updates"]);
  });

  it("streams tokens as messages-tuple and as legacy messages", async () => {
    const tuple = await executeRun(client, {
      graphId: "chat",
      threadId: randomUUID(),
      spec: { inputJson: json(human("hi")), streamModes: ["messages-tuple"] },
    });
    const chunks = named(tuple.events, "messages") as Array<[Record<string, unknown>, Record<string, unknown>]>;
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.map(([m]) => m.content).join("")).toBe("Hello from the model");
    expect(chunks[0]?.[0]).toMatchObject({ type: "ai", tool_call_chunks: [] });
    expect(chunks[0]?.[1]).toMatchObject({ langgraph_node: "model" });

    const legacy = await executeRun(client, {
      graphId: "chat",
      threadId: randomUUID(),
      spec: { inputJson: json(human("hi")), streamModes: ["messages"] },
    });
    const names = new Set(legacy.events.map((e) => e.event));
    expect([...names].sort()).toEqual(["messages/complete", "messages/metadata", "messages/partial"]);
    const partials = named(legacy.events, "messages/partial") as Array<Array<{ content: string; type: string }>>;
    expect(partials.at(-1)?.[0]?.content).toBe("Hello from the model");
    expect(partials[1]?.[0]?.content).toBe("He");
    const complete = (named(legacy.events, "messages/complete") as Array<Array<{ type: string; content: string }>>).flat();
    expect(complete.map((m) => m.type)).toEqual(["human", "ai"]);
    expect(complete[1]?.content).toBe("Hello from the model");
    const metadata = named(legacy.events, "messages/metadata") as Array<Record<string, { metadata: Record<string, unknown> }>>;
    expect(metadata).toHaveLength(1);
    expect(Object.values(metadata[0] ?? {})[0]?.metadata.langgraph_node).toBe("model");
  });

  it("streams LangChain events under `events`", async () => {
    const run = await executeRun(client, {
      graphId: "echo",
      threadId: randomUUID(),
      spec: { inputJson: json(human("x")), streamModes: ["events", "values"] },
    });
    const events = named(run.events, "events") as Array<{ event: string; name: string }>;
    expect(events[0]).toMatchObject({ event: "on_chain_start", name: "LangGraph" });
    expect(events.at(-1)).toMatchObject({ event: "on_chain_end", name: "LangGraph" });
    expect(named(run.events, "values")).toHaveLength(2);
    expect(JSON.stringify(run.events)).not.toContain('"lc":1');
  });

  it("streams debug, tasks and checkpoints records without internals", async () => {
    const run = await executeRun(client, {
      graphId: "echo",
      threadId: randomUUID(),
      spec: { inputJson: json(human("x")), streamModes: ["debug", "tasks", "checkpoints"] },
    });
    const checkpoints = named(run.events, "checkpoints") as Array<Record<string, unknown>>;
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(checkpoints.at(-1)).toMatchObject({
      next: [],
      metadata: { source: "loop" },
      checkpoint: { checkpoint_id: expect.any(String) },
    });
    expect(checkpoints.at(-1)?.config).not.toHaveProperty("callbacks");
    const tasks = named(run.events, "tasks") as Array<Record<string, unknown>>;
    expect(tasks.map((t) => t.name)).toEqual(["reply", "reply"]);
    expect(tasks[1]).toHaveProperty("result");
    const debug = named(run.events, "debug") as Array<{ type: string }>;
    expect(new Set(debug.map((d) => d.type))).toEqual(new Set(["checkpoint", "task", "task_result"]));
  });

  it("reports a graph exception as an error event and an ERROR result", async () => {
    // The interrupt graph cannot pause without a thread to checkpoint into.
    const run = await executeRun(client, { graphId: "interrupt", spec: { inputJson: json({}) } });
    expect(run.outcome).toBe("ERROR");
    const errors = named(run.events, "error") as Array<{ error: string; message: string }>;
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBe("GraphValueError");
    expect(errors[0]?.message).toMatch(/checkpointer/i);
    expect(run.error).toEqual(errors[0]);
  });

  it("runs without a thread: no checkpointer, values from the stream", async () => {
    const checkpointWrites = () => dataPlane.writes.filter((w) => w.kind !== "item").length;
    const before = checkpointWrites();
    const run = await executeRun(client, { graphId: "steps", spec: { inputJson: json({ topic: "x" }) } });
    expect(run.outcome).toBe("SUCCESS");
    expect(run.values).toEqual({ topic: "x", trail: ["first", "second", "third"], count: 3 });
    expect(checkpointWrites()).toBe(before);
  });

  it("fences every write with the run's fence, also for concurrent runs of one graph", async () => {
    const threads = [randomUUID(), randomUUID(), randomUUID()];
    const runs = threads.map((threadId, i) => ({ threadId, runId: randomUUID(), epoch: BigInt(i + 5) }));
    await Promise.all(
      runs.map((r) => executeRun(client, { graphId: "steps", ...r, spec: { inputJson: json({ topic: r.threadId }) } })),
    );
    for (const r of runs) {
      const writes = dataPlane.writes.filter((w) => w.threadId === r.threadId);
      expect(writes.length).toBeGreaterThan(3);
      expect(writes.every((w) => w.fence?.runId === r.runId && w.fence.epoch === r.epoch)).toBe(true);
      const metadata = dataPlane.checkpointsOf(r.threadId).map((c) => parse(c.metadataJson) as Record<string, unknown>);
      expect(metadata.every((m) => m.run_id === r.runId && m.graph_id === "steps")).toBe(true);
    }
  });

  it("fails the RPC with STALE_EPOCH when the data plane refuses a fenced write", async () => {
    const runId = randomUUID();
    dataPlane.setCurrentEpoch(runId, 3n);
    const err = await executeRun(client, {
      graphId: "echo",
      threadId: randomUUID(),
      runId,
      epoch: 2n,
      spec: { inputJson: json(human("x")) },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(errorInfo(err as ConnectError)?.reason).toBe(Reason.StaleEpoch);
  });

  it("passes the run's context to the graph", async () => {
    const run = await executeRun(client, {
      graphId: "steps",
      threadId: randomUUID(),
      spec: { inputJson: json({ topic: "t" }), context: { label: "ctx" } },
    });
    expect((run.values as { trail: string[] }).trail).toEqual(["first:ctx", "second", "third"]);
  });

  it("stops at interrupt_before and forks from an earlier checkpoint", async () => {
    const threadId = randomUUID();
    const paused = await executeRun(client, {
      graphId: "steps",
      threadId,
      spec: { inputJson: json({ topic: "a" }), interruptBefore: ["*"] },
    });
    expect(paused.result.hasNext).toBe(true);
    expect(paused.values).toEqual({ topic: "a", trail: [], count: 0 });
    const resumed = await executeRun(client, { graphId: "steps", threadId, spec: { interruptAfter: ["second"] } });
    expect(resumed.values).toEqual({ topic: "a", trail: ["first", "second"], count: 2 });
    const finished = await executeRun(client, { graphId: "steps", threadId, spec: {} });
    expect(finished.values).toEqual({ topic: "a", trail: ["first", "second", "third"], count: 3 });
    expect(finished.result.hasNext).toBe(false);

    // Back to the checkpoint before "third" ran, and on from there.
    const history = (await client.getHistory({ graphId: "steps", threadId, limit: 20 })).statesJson.map(parseState);
    const beforeThird = history.find((h) => h.next.includes("third"));
    expect(beforeThird).toBeDefined();
    const forked = await executeRun(client, {
      graphId: "steps",
      threadId,
      spec: {
        checkpoint: { threadId, checkpointNs: "", checkpointId: beforeThird?.checkpoint.checkpoint_id ?? "" },
        streamModes: ["updates"],
      },
    });
    expect(named(forked.events, "updates")).toEqual([{ third: { trail: ["third"], count: 3 } }]);
    const latest = parseState((await client.getState({ graphId: "steps", threadId })).stateJson);
    expect(latest.values).toEqual({ topic: "a", trail: ["first", "second", "third"], count: 3 });
    // LangGraph copies the chosen checkpoint into a "fork" checkpoint and goes on from that.
    const parent = parseState(
      (
        await client.getState({
          graphId: "steps",
          threadId,
          checkpoint: { threadId, checkpointId: latest.parent_checkpoint?.checkpoint_id ?? "" },
        })
      ).stateJson,
    );
    expect(parent.metadata.source).toBe("fork");
    expect(parent.parent_checkpoint?.checkpoint_id).toBe(beforeThird?.checkpoint.checkpoint_id);
  });

  it("calls a factory per run with the run's config", async () => {
    const run = await executeRun(client, {
      graphId: "slow",
      threadId: randomUUID(),
      spec: { inputJson: json({}), streamModes: ["custom"], config: { configurable: { ticks: 3 } } },
    });
    expect(named(run.events, "custom")).toEqual([{ tick: 1 }, { tick: 2 }, { tick: 3 }]);
    expect(run.values).toEqual({ ticks: 3 });
  });

  it("stops the graph when the call is cancelled", async () => {
    const threadId = randomUUID();
    const abort = new AbortController();
    const started = Date.now();
    const seen: unknown[] = [];
    const call = (async () => {
      for await (const res of client.executeRun(
        { runId: randomUUID(), threadId, graphId: "slow", spec: { inputJson: json({}), streamModes: ["custom"] } },
        { signal: abort.signal },
      )) {
        if (res.kind.case === "event") seen.push(res.kind.value.event);
        if (seen.length === 3) abort.abort();
      }
    })();
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    expect(Date.now() - started).toBeLessThan(3_000);
    const writesAfterCancel = dataPlane.writes.filter((w) => w.threadId === threadId).length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(dataPlane.writes.filter((w) => w.threadId === threadId).length).toBe(writesAfterCancel);
  });
});

describe("ExecuteRun aborted", () => {
  it("ends with an INTERRUPTED result and no error event", async () => {
    const transport = createGrpcTransport({ baseUrl: dataPlane.url });
    const impl = createRuntimeServiceImpl({
      graphs: runtime.graphs,
      checkpoints: createClient(CheckpointService, transport),
      store: createClient(StoreService, transport),
      logger,
    });
    const ctx = createHandlerContext({
      service: RuntimeService,
      method: RuntimeService.method.executeRun,
      protocolName: "test",
      requestMethod: "POST",
      url: "/langopen.runtime.v1.RuntimeService/ExecuteRun",
    });
    const runId = randomUUID();
    const req = create(ExecuteRunRequestSchema, {
      runId,
      threadId: randomUUID(),
      graphId: "slow",
      spec: { inputJson: json({}), streamModes: ["custom"] },
      fence: { runId, epoch: 1n },
    });
    const kinds: string[] = [];
    let outcome: RunOutcome | undefined;
    for await (const res of impl.executeRun(req, ctx) as AsyncIterable<{
      kind: { case: string; value: { event?: string; outcome?: RunOutcome } };
    }>) {
      kinds.push(res.kind.case === "event" ? (res.kind.value.event ?? "") : res.kind.case);
      if (kinds.length === 2) ctx.abort();
      if (res.kind.case === "result") outcome = res.kind.value.outcome;
    }
    expect(kinds).toEqual(["custom", "custom", "result"]);
    expect(outcome).toBe(RunOutcome.INTERRUPTED);
  });
});

describe("state RPCs", () => {
  it("answers an empty state for a thread without checkpoints", async () => {
    const state = parse((await client.getState({ graphId: "echo", threadId: randomUUID() })).stateJson);
    expect(state).toEqual({
      values: {},
      next: [],
      tasks: [],
      checkpoint: null,
      metadata: null,
      created_at: null,
      parent_checkpoint: null,
      interrupts: [],
    });
  });

  it("gets state and history, and updates state as a node", async () => {
    const threadId = randomUUID();
    await executeRun(client, { graphId: "echo", threadId, spec: { inputJson: json(human("one")) } });
    const state = parseState((await client.getState({ graphId: "echo", threadId })).stateJson);
    expect(state.values.messages?.map((m: { content: string }) => m.content)).toEqual(["one", "You said: one"]);
    expect(state.checkpoint).toMatchObject({ thread_id: threadId, checkpoint_ns: "", checkpoint_id: expect.any(String) });
    expect(state.parent_checkpoint).toMatchObject({ thread_id: threadId });
    expect(state.metadata).toMatchObject({ source: "loop", step: 1, graph_id: "echo" });
    expect(typeof state.created_at).toBe("string");

    const history = (await client.getHistory({ graphId: "echo", threadId, limit: 10 })).statesJson.map(parseState);
    expect(history.map((h) => h.metadata.step)).toEqual([1, 0, -1]);
    expect(history[0]?.checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id);
    const before = (
      await client.getHistory({
        graphId: "echo",
        threadId,
        limit: 1,
        before: { threadId, checkpointId: state.checkpoint.checkpoint_id },
      })
    ).statesJson.map(parseState);
    expect(before.map((h) => h.metadata.step)).toEqual([0]);
    const inputs = (await client.getHistory({ graphId: "echo", threadId, metadata: { source: "input" } })).statesJson.map(
      parseState,
    );
    expect(inputs.map((h) => h.metadata.step)).toEqual([-1]);

    const updated = await client.updateState({
      graphId: "echo",
      threadId,
      valuesJson: json({ messages: [{ type: "ai", content: "edited" }] }),
      asNode: "reply",
    });
    expect(updated.checkpoint).toMatchObject({ threadId, checkpointNs: "" });
    expect(updated.checkpoint?.checkpointId).not.toBe(state.checkpoint.checkpoint_id);
    const values = parse(updated.valuesJson) as { messages: Array<{ content: string }> };
    expect(values.messages.map((m) => m.content)).toEqual(["one", "You said: one", "edited"]);
    expect(updated.hasNext).toBe(false);
    const after = parseState((await client.getState({ graphId: "echo", threadId })).stateJson);
    expect(after.metadata.source).toBe("update");

    const old = parseState(
      (
        await client.getState({
          graphId: "echo",
          threadId,
          checkpoint: { threadId, checkpointId: state.checkpoint.checkpoint_id },
        })
      ).stateJson,
    );
    expect(old.values.messages).toHaveLength(2);
  });

  it("refuses an update as a node the graph does not have with INVALID_ARGUMENT", async () => {
    const threadId = randomUUID();
    await executeRun(client, { graphId: "echo", threadId, spec: { inputJson: json(human("x")) } });
    const err = (await client
      .updateState({ graphId: "echo", threadId, valuesJson: json({ messages: [] }), asNode: "nope" })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^Cannot update the state: .*nope/);
  });

  it("shows a subgraph task's state with subgraphs=true, its checkpoint address otherwise", async () => {
    const threadId = randomUUID();
    const run = await executeRun(client, {
      graphId: "parent",
      threadId,
      spec: { inputJson: json({}), interruptBefore: ["child"] },
    });
    expect(run.result.hasNext).toBe(true);
    const flat = parseState((await client.getState({ graphId: "parent", threadId })).stateJson);
    expect(flat.next).toEqual(["child"]);
    expect(flat.tasks[0]).toMatchObject({ name: "child", state: null, checkpoint: { thread_id: threadId, checkpoint_id: null } });
    expect((flat.tasks[0] as { checkpoint?: { checkpoint_ns: string } }).checkpoint?.checkpoint_ns).toMatch(/^child:/);
    const nested = parseState((await client.getState({ graphId: "parent", threadId, subgraphs: true })).stateJson);
    expect(nested.tasks[0]?.state).toMatchObject({ values: {}, next: [], tasks: [] });
  });
});

describe("graph description", () => {
  it("lists the graphs with their load status", async () => {
    const { graphs } = await client.listGraphs({});
    expect(graphs.map((g) => [g.graphId, g.loaded, g.error])).toEqual(
      ["blocking", "chat", "echo", "interrupt", "parent", "slow", "steps"].map((id) => [id, true, ""]),
    );
  });

  it("draws the graph, expanding subgraphs with xray", async () => {
    const flat = parse((await client.describeGraph({ graphId: "parent" })).graphJson) as {
      nodes: Array<{ id: string }>;
      edges: unknown[];
    };
    expect(flat.nodes.map((n) => n.id)).toEqual(["__start__", "before", "child", "after", "__end__"]);
    expect(flat.edges).toContainEqual({ source: "__start__", target: "before", conditional: false });
    const xray = parse((await client.describeGraph({ graphId: "parent", xray: -1 })).graphJson) as {
      nodes: Array<{ id: string }>;
    };
    expect(xray.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(["child:inner_a", "child:inner_b"]));
    const one = parse((await client.describeGraph({ graphId: "parent", xray: 1 })).graphJson) as { nodes: Array<{ id: string }> };
    expect(one.nodes.map((n) => n.id)).toContain("child:inner_a");
  });

  it("gives JSON schemas from zod state and channel schemas otherwise", async () => {
    const zod = parse((await client.getSchemas({ graphId: "interrupt" })).schemasJson) as SchemasJson;
    expect(zod.graph_id).toBe("interrupt");
    expect(zod.state_schema).toMatchObject({
      type: "object",
      properties: { question: { type: "string", description: "What to ask" } },
    });
    expect(zod.input_schema.properties).toHaveProperty("answer");
    const annotation = parse((await client.getSchemas({ graphId: "steps" })).schemasJson) as SchemasJson;
    expect(Object.keys(annotation.state_schema.properties)).toEqual(["topic", "trail", "count"]);
    const sub = parse((await client.getSchemas({ graphId: "parent", subgraphNamespace: "" })).schemasJson) as Record<
      string,
      SchemasJson
    >;
    expect(Object.keys(sub)).toEqual(["child"]);
    expect(Object.keys(sub.child?.state_schema.properties ?? {})).toEqual(["log"]);
  });

  it("answers NOT_FOUND for an unknown graph", async () => {
    await expect(client.describeGraph({ graphId: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("Execute (acknowledged)", () => {
  type Request = MessageInitShape<typeof ExecuteRequestSchema>;
  /** Starts Execute; the test writes acknowledgements and renewals through the returned channel. */
  function open(args: {
    graphId: string;
    threadId: string;
    modes: string[];
    configurable?: Record<string, unknown>;
    durability?: Durability;
    servesCheckpoints?: boolean;
  }) {
    const runId = randomUUID();
    const requests = createWritableIterable<Request>();
    void requests.write({
      kind: {
        case: "start",
        value: {
          runId,
          threadId: args.threadId,
          graphId: args.graphId,
          assistantId: randomUUID(),
          spec: {
            inputJson: json({ topic: "acks" }),
            streamModes: args.modes,
            config: { configurable: (args.configurable ?? {}) as never },
            durability: args.durability,
          },
          fence: { runId, epoch: 1n },
          servesCheckpoints: args.servesCheckpoints,
        },
      },
    });
    const stream = client.execute(requests as AsyncIterable<Request> as never)[Symbol.asyncIterator]();
    return { runId, requests, stream };
  }
  const writesOf = (threadId: string) => dataPlane.writes.filter((w) => w.threadId === threadId);

  /** Reads to the result, telling `ack` how many events the caller has received in all. */
  const drainToOutcome = async (stream: ReturnType<typeof open>["stream"], ack: (seen: number) => void, seenBefore = 0) => {
    let seen = seenBefore;
    for (let next = await stream.next(); !next.done; next = await stream.next()) {
      if (next.value.kind.case === "result") return next.value.kind.value.outcome;
      ack(++seen);
    }
    return undefined;
  };

  it("holds the next step until the events before its checkpoint are acknowledged (durability sync, the default)", async () => {
    const threadId = randomUUID();
    const { requests, stream } = open({ graphId: "steps", threadId, modes: ["updates", "custom"] });
    const first = await stream.next();
    expect(first.value?.kind.case === "event" && first.value.kind.value.event).toBe("updates");
    // Unacknowledged, the first step's checkpoint is not written, so the second step does not start.
    const pending = stream.next();
    const held = await Promise.race([pending.then(() => false), new Promise((resolve) => setTimeout(() => resolve(true), 300))]);
    expect(held).toBe(true);
    // Only what came before any event: the input checkpoint, the input's writes, the first loop checkpoint.
    expect(writesOf(threadId).map((w) => w.kind)).toEqual(["checkpoint", "writes", "checkpoint"]);
    void requests.write({ kind: { case: "ack", value: { durableEvents: 1n } } });
    const second = await pending;
    expect(second.value?.kind.case === "event" && second.value.kind.value.event).toBe("custom");
    const ack = (seen: number) => void requests.write({ kind: { case: "ack", value: { durableEvents: BigInt(seen) } } });
    ack(2);
    expect(await drainToOutcome(stream, ack, 2)).toBe(RunOutcome.SUCCESS);
    requests.close();
    expect(writesOf(threadId).filter((w) => w.kind === "checkpoint").length).toBeGreaterThanOrEqual(4);
    // What a superstep writes goes together: fewer calls than writes.
    const batches = dataPlane.batches.filter((b) => b.threadId === threadId);
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(writesOf(threadId).length);
    expect(batches.length).toBeLessThan(writesOf(threadId).length);
  });

  it("with durability async, runs ahead but writes no checkpoint past unacknowledged events", async () => {
    const threadId = randomUUID();
    const { requests, stream } = open({ graphId: "steps", threadId, modes: ["updates", "custom"], durability: Durability.ASYNC });
    const events: string[] = [];
    while (events.length < 4) {
      const next = await stream.next();
      expect(next.done).toBe(false);
      if (next.value?.kind.case === "event") events.push(next.value.kind.value.event);
    }
    expect(events).toEqual(["updates", "custom", "updates", "updates"]);
    // Every event is handed over, none acknowledged: at most what came before any event (the input
    // checkpoint, the input's writes, the first loop checkpoint) may have gone, and nothing more goes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = writesOf(threadId).length;
    expect(before).toBeLessThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(writesOf(threadId).length).toBe(before);
    void requests.write({ kind: { case: "ack", value: { durableEvents: 4n } } });
    expect(await drainToOutcome(stream, () => {})).toBe(RunOutcome.SUCCESS);
    requests.close();
    expect(writesOf(threadId).filter((w) => w.kind === "checkpoint").length).toBeGreaterThanOrEqual(4);
  });

  it("stops the run with ABORTED when its lease is not renewed in time, and writes nothing after", async () => {
    const threadId = randomUUID();
    const { requests, stream } = open({ graphId: "slow", threadId, modes: ["custom"], configurable: { ticks: 100 } });
    void requests.write({ kind: { case: "lease", value: { validForMs: 500n } } });
    const seen: string[] = [];
    const failure = await (async () => {
      try {
        for (let next = await stream.next(); !next.done; next = await stream.next()) {
          if (next.value.kind.case === "event") {
            seen.push(next.value.kind.value.event);
            void requests.write({ kind: { case: "ack", value: { durableEvents: BigInt(seen.length) } } });
          }
        }
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    requests.close();
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).code).toBe(Code.Aborted);
    expect((failure as ConnectError).rawMessage).toMatch(/lease lapsed/);
    // Fewer than the graph's 100 ticks: it stopped at the lapse instead of running on.
    expect(seen.length).toBeLessThan(100);
    const count = writesOf(threadId).length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(writesOf(threadId).length).toBe(count);
  });

  describe("with a caller that serves the run's checkpoint calls", () => {
    let served: MemoryDataPlane;
    let servedClient: ReturnType<typeof createClient<typeof CheckpointService>>;
    beforeAll(async () => {
      served = await startMemoryDataPlane(logger);
      servedClient = createClient(CheckpointService, createGrpcTransport({ baseUrl: served.url }));
    });
    afterAll(async () => {
      await served?.stop();
    });

    it("sends every checkpoint read and write on the run's stream, after the events before it, without waiting for acknowledgements", async () => {
      const threadId = randomUUID();
      const { requests, stream } = open({ graphId: "steps", threadId, modes: ["updates", "custom"], servesCheckpoints: true });
      // The order the caller sees: events, and calls with what they asked.
      const seen: string[] = [];
      let outcome: RunOutcome | undefined;
      for (let next = await stream.next(); !next.done; next = await stream.next()) {
        const { kind } = next.value;
        if (kind.case === "event") seen.push(kind.value.event);
        else if (kind.case === "result") outcome = kind.value.outcome;
        else if (kind.case === "checkpointCall") {
          const call = kind.value;
          if (call.kind.case === "getCheckpoint") {
            seen.push("get");
            const value = await servedClient.getCheckpoint(call.kind.value);
            void requests.write({
              kind: { case: "checkpointReply", value: { id: call.id, kind: { case: "getCheckpoint", value } } },
            });
          } else if (call.kind.case === "putBatch") {
            seen.push("put");
            const value = await servedClient.putBatch(call.kind.value);
            void requests.write({ kind: { case: "checkpointReply", value: { id: call.id, kind: { case: "putBatch", value } } } });
          }
        }
      }
      requests.close();
      expect(outcome).toBe(RunOutcome.SUCCESS);
      // The runtime read the thread first, and never reached the data plane itself.
      expect(seen[0]).toBe("get");
      expect(writesOf(threadId)).toEqual([]);
      expect(served.checkpointsOf(threadId).length).toBeGreaterThanOrEqual(4);
      // Durability sync: each step's checkpoint goes after that step's update, and the next
      // step's events only after it is written.
      const updates = seen.map((s, i) => (s === "updates" ? i : -1)).filter((i) => i >= 0);
      expect(updates.length).toBe(3);
      for (const [n, at] of updates.entries()) {
        const putAfter = seen.indexOf("put", at);
        expect(putAfter).toBeGreaterThan(at);
        if (n + 1 < updates.length) expect(putAfter).toBeLessThan(updates[n + 1] as number);
      }
    });

    it("stops the run with the caller's error when the caller refuses a write", async () => {
      const threadId = randomUUID();
      const { requests, stream } = open({ graphId: "steps", threadId, modes: ["updates"], servesCheckpoints: true });
      const failure = await (async () => {
        try {
          for (let next = await stream.next(); !next.done; next = await stream.next()) {
            const { kind } = next.value;
            if (kind.case !== "checkpointCall") continue;
            const call = kind.value;
            const reply =
              call.kind.case === "getCheckpoint"
                ? { case: "getCheckpoint" as const, value: create(GetCheckpointResponseSchema) }
                : {
                    case: "error" as const,
                    value: create(CallErrorSchema, { code: Code.FailedPrecondition, message: "the run moved on to epoch 2" }),
                  };
            void requests.write({ kind: { case: "checkpointReply", value: { id: call.id, kind: reply } } });
          }
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      requests.close();
      expect(failure).toBeInstanceOf(ConnectError);
      expect((failure as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((failure as ConnectError).rawMessage).toMatch(/epoch 2/);
      expect(writesOf(threadId)).toEqual([]);
    });
  });

  it("refuses a call whose first message is not start", async () => {
    const requests = createWritableIterable<Request>();
    void requests.write({ kind: { case: "ack", value: { durableEvents: 1n } } });
    requests.close();
    const stream = client.execute(requests as AsyncIterable<Request> as never);
    await expect(
      (async () => {
        for await (const _ of stream) {
          /* drain */
        }
      })(),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
