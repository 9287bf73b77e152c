/**
 * The runtime against the real data plane: the api-server's CheckpointService and StoreService
 * on a Postgres of the test harness. The test plays the worker's part: it creates runs through
 * RunService, claims them (lease + epoch) with the api-server's run store, and calls ExecuteRun.
 */

import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ApiServer, startApiServer } from "@langopen/api-server";
import { createLogger, errorInfo, freePort, Reason } from "@langopen/common";
import { createLocalSignals, createPool, createRunLeaseStore, type RunRow } from "@langopen/data-plane";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import type { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Runtime, startRuntime } from "./compose.js";
import { RemoteStore } from "./remote/store.js";
import { executeRun, json, named, parse, parseState } from "./test-fixtures/run-helpers.js";

const CONFIG = fileURLToPath(new URL("../test-graphs/langgraph.json", import.meta.url));
const logger = createLogger({ service: "test", level: "silent" });

let drop: () => Promise<void>;
let api: ApiServer;
let runtime: Runtime;
let pool: pg.Pool;
let runtimeClient: ReturnType<typeof createClient<typeof RuntimeService>>;
let threads: ReturnType<typeof createClient<typeof ThreadService>>;
let runs: ReturnType<typeof createClient<typeof RunService>>;

beforeAll(async () => {
  const db = await createTestDatabase(inject("databaseUrl"));
  drop = db.drop;
  // The api-server asks the runtime about state; the runtime writes checkpoints to the api-server.
  const runtimePort = await freePort();
  runtimeClient = createClient(RuntimeService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${runtimePort}` }));
  api = await startApiServer(
    {
      databaseUrl: db.url,
      host: "127.0.0.1",
      port: 0,
      graphIds: ["echo", "interrupt"],
      signals: createLocalSignals(),
      runtime: runtimeClient,
    },
    logger,
  );
  runtime = await startRuntime({ configPath: CONFIG, host: "127.0.0.1", port: runtimePort, apiServerUrl: api.rpc.url }, logger);
  const transport = createGrpcTransport({ baseUrl: api.rpc.url });
  threads = createClient(ThreadService, transport);
  runs = createClient(RunService, transport);
  pool = createPool({ connectionString: db.url, max: 2, applicationName: "langopen-runtime-test" }, logger);
});

afterAll(async () => {
  await runtime?.stop(500);
  await api?.stop(500);
  await pool?.end();
  await drop?.();
});

type Spec = MessageInitShape<typeof RunSpecSchema>;

/** Creates a run on the thread and claims it as a worker would: running, with a fresh epoch. */
async function createAndClaim(threadId: string, spec: Spec): Promise<RunRow> {
  await runs.createRun({ threadId, spec });
  const [row] = await createRunLeaseStore(pool).claim("runtime-test", 60_000);
  if (!row) throw new Error("no run to claim");
  return row;
}

async function finish(row: RunRow, values: unknown, hasNext: boolean): Promise<void> {
  await createRunLeaseStore(pool).finish(
    { runId: row.run_id, threadId: row.thread_id ?? "", epoch: row.epoch },
    { kind: "done", status: "success", thread: { status: hasNext ? "interrupted" : "idle", valuesJson: JSON.stringify(values) } },
  );
}

async function newThread(graphId: string): Promise<string> {
  const { thread } = await threads.createThread({ metadata: { graph_id: graphId } });
  if (!thread) throw new Error("no thread");
  return thread.threadId;
}

describe("runtime with the api-server's CheckpointService", () => {
  it("runs echo with fenced checkpoints and answers state and history from Postgres", async () => {
    const threadId = await newThread("echo");
    const spec: Spec = {
      assistantId: "echo",
      inputJson: json({ messages: [{ type: "human", content: "hi there" }] }),
      streamModes: ["values", "updates"],
    };
    const row = await createAndClaim(threadId, spec);
    const run = await executeRun(client(), { graphId: "echo", threadId, runId: row.run_id, epoch: BigInt(row.epoch), spec });
    expect(run.outcome).toBe("SUCCESS");
    expect(run.events.map((e) => e.event)).toEqual(["values", "updates", "values"]);
    expect(named(run.events, "updates")[0]).toMatchObject({
      reply: { messages: [{ type: "ai", content: "You said: hi there" }] },
    });
    const values = run.values as { messages: Array<{ type: string; content: string }> };
    expect(values.messages.map((m) => [m.type, m.content])).toEqual([
      ["human", "hi there"],
      ["ai", "You said: hi there"],
    ]);
    await finish(row, run.values, run.result.hasNext);

    const state = parseState((await client().getState({ graphId: "echo", threadId })).stateJson);
    expect(state.values).toEqual(run.values);
    expect(state.next).toEqual([]);
    expect(state.metadata).toMatchObject({ source: "loop", step: 1, run_id: row.run_id, graph_id: "echo" });

    const history = (await client().getHistory({ graphId: "echo", threadId })).statesJson.map(parseState);
    expect(history.map((h) => h.metadata.step)).toEqual([1, 0, -1]);
    const filtered = (
      await client().getHistory({ graphId: "echo", threadId, metadata: { source: "loop", step: 0 } })
    ).statesJson.map(parseState);
    expect(filtered).toHaveLength(1);
    expect(filtered[0]?.next).toEqual(["reply"]);

    // The api-server's own thread state goes through this runtime too.
    const viaApi = parseState((await threads.getThreadState({ threadId })).stateJson);
    expect(viaApi.checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id);
  });

  it("pauses interrupt on interrupt(), then resumes it with a command on the same thread", async () => {
    const threadId = await newThread("interrupt");
    const spec: Spec = { assistantId: "interrupt", inputJson: json({ question: "Your name?" }), streamModes: ["values"] };
    const first = await createAndClaim(threadId, spec);
    const paused = await executeRun(client(), {
      graphId: "interrupt",
      threadId,
      runId: first.run_id,
      epoch: BigInt(first.epoch),
      spec,
    });
    expect(paused.outcome).toBe("SUCCESS");
    expect(paused.result.hasNext).toBe(true);
    expect(named(paused.events, "values").at(-1)).toEqual({
      __interrupt__: [{ id: expect.any(String), value: { question: "Your name?" } }],
    });
    const waiting = Object.values(paused.interrupts).flat();
    expect(waiting).toEqual([{ id: expect.any(String), value: { question: "Your name?" } }]);
    await finish(first, paused.values, true);

    const state = parseState((await client().getState({ graphId: "interrupt", threadId })).stateJson);
    expect(state.next).toEqual(["ask"]);
    expect(state.tasks[0]?.interrupts).toEqual(waiting);
    expect(state.interrupts).toEqual(waiting);

    const resumeSpec: Spec = { assistantId: "interrupt", commandJson: json({ resume: "Grace" }), streamModes: ["values"] };
    const second = await createAndClaim(threadId, resumeSpec);
    const resumed = await executeRun(client(), {
      graphId: "interrupt",
      threadId,
      runId: second.run_id,
      epoch: BigInt(second.epoch),
      spec: resumeSpec,
    });
    expect(resumed.outcome).toBe("SUCCESS");
    expect(resumed.values).toEqual({ question: "Your name?", answer: "Hello, Grace" });
    expect(resumed.result.hasNext).toBe(false);
    await finish(second, resumed.values, false);

    const after = parseState((await client().getState({ graphId: "interrupt", threadId })).stateJson);
    expect(after.values).toEqual({ question: "Your name?", answer: "Hello, Grace" });
    expect(after.interrupts).toEqual([]);
  });

  it("updates state outside a run (unfenced) and returns the new checkpoint", async () => {
    const threadId = await newThread("echo");
    const res = await client().updateState({
      graphId: "echo",
      threadId,
      valuesJson: json({ messages: [{ type: "human", content: "seeded" }] }),
      asNode: "reply",
    });
    expect(res.checkpoint?.threadId).toBe(threadId);
    expect(res.checkpoint?.checkpointId).not.toBe("");
    expect((parse(res.valuesJson) as { messages: Array<{ content: string }> }).messages.map((m) => m.content)).toEqual([
      "seeded",
    ]);
  });

  it("aborts a run whose epoch has moved on with FAILED_PRECONDITION / STALE_EPOCH", async () => {
    const threadId = await newThread("echo");
    const spec: Spec = { assistantId: "echo", inputJson: json({ messages: [{ type: "human", content: "late" }] }) };
    const row = await createAndClaim(threadId, spec);
    const err = (await executeRun(client(), {
      graphId: "echo",
      threadId,
      runId: row.run_id,
      epoch: BigInt(row.epoch) - 1n,
      spec,
    }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(err)?.reason).toBe(Reason.StaleEpoch);
    const state = parseState((await client().getState({ graphId: "echo", threadId })).stateJson);
    expect(state.checkpoint).toBeNull();
  });
});

describe("PutBatch of the api-server's CheckpointService", () => {
  const checkpoint = (threadId: string, id: string) => ({
    case: "checkpoint" as const,
    value: {
      checkpoint: {
        ref: { threadId, checkpointNs: "", checkpointId: id },
        type: "json",
        checkpoint: json({ v: 1 }),
        metadataJson: json({}),
      },
    },
  });
  const writes = (threadId: string, id: string) => ({
    case: "pendingWrites" as const,
    value: {
      ref: { threadId, checkpointNs: "", checkpointId: id },
      writes: [{ taskId: "t", channel: "c", type: "json", value: json(1), idx: 0 }],
    },
  });

  it("writes a checkpoint and the writes against it in one call, and nothing when one write is bad or the fence is stale", async () => {
    const checkpoints = createClient(CheckpointService, createGrpcTransport({ baseUrl: api.rpc.url }));
    const threadId = await newThread("echo");
    const row = await createAndClaim(threadId, { assistantId: "echo", inputJson: json({ messages: [] }) });
    const fence = { runId: row.run_id, epoch: BigInt(row.epoch) };

    const bad = await checkpoints
      .putBatch({ fence, writes: [{ kind: checkpoint(threadId, "1ef0000000000001") }, { kind: { case: undefined } }] })
      .catch((e: unknown) => e as ConnectError);
    expect(bad).toMatchObject({ code: Code.InvalidArgument });
    const stale = await checkpoints
      .putBatch({ fence: { ...fence, epoch: fence.epoch - 1n }, writes: [{ kind: checkpoint(threadId, "1ef0000000000001") }] })
      .catch((e: unknown) => e as ConnectError);
    expect(stale).toMatchObject({ code: Code.FailedPrecondition });
    const staleBatch = await checkpoints
      .putBatch({
        fence: { ...fence, epoch: fence.epoch - 1n },
        writes: [{ kind: checkpoint(threadId, "1ef0000000000001") }, { kind: writes(threadId, "1ef0000000000001") }],
      })
      .catch((e: unknown) => e as ConnectError);
    expect(staleBatch).toMatchObject({ code: Code.FailedPrecondition });
    expect((await checkpoints.getCheckpoint({ ref: { threadId } })).checkpoint).toBeUndefined();

    await checkpoints.putBatch({
      fence,
      writes: [{ kind: checkpoint(threadId, "1ef0000000000001") }, { kind: writes(threadId, "1ef0000000000001") }],
    });
    const got = (await checkpoints.getCheckpoint({ ref: { threadId } })).checkpoint;
    expect(got?.ref?.checkpointId).toBe("1ef0000000000001");
    expect(got?.pendingWrites.map((w) => [w.taskId, w.channel])).toEqual([["t", "c"]]);

    // A row written twice in one batch ends with its later value, as two writes in order would.
    const again = writes(threadId, "1ef0000000000002");
    const later = {
      ...again,
      value: { ...again.value, writes: [{ taskId: "t", channel: "d", type: "json", value: json(2), idx: 0 }] },
    };
    await checkpoints.putBatch({
      fence,
      writes: [
        { kind: checkpoint(threadId, "1ef0000000000002") },
        { kind: again },
        { kind: later },
        { kind: checkpoint(threadId, "1ef0000000000002") },
      ],
    });
    const second = (await checkpoints.getCheckpoint({ ref: { threadId } })).checkpoint;
    expect(second?.ref?.checkpointId).toBe("1ef0000000000002");
    expect(second?.pendingWrites.map((w) => [w.taskId, w.channel, new TextDecoder().decode(w.value)])).toEqual([["t", "d", "2"]]);
  });
});

describe("RemoteStore with the api-server's StoreService", () => {
  it("puts, gets, searches, lists namespaces and deletes items", async () => {
    const store = new RemoteStore({ client: createClient(StoreService, createGrpcTransport({ baseUrl: api.rpc.url })) });
    await store.put(["users", "ada", "prefs"], "theme", { color: "green", size: 2 });
    await store.put(["users", "ada", "prefs"], "lang", { code: "en" });
    await store.put(["users", "bob"], "theme", { color: "blue" });
    const item = await store.get(["users", "ada", "prefs"], "theme");
    expect(item).toMatchObject({ namespace: ["users", "ada", "prefs"], key: "theme", value: { color: "green", size: 2 } });
    expect(item?.createdAt).toBeInstanceOf(Date);
    expect(await store.get(["users", "ada", "prefs"], "missing")).toBeNull();
    const green = await store.search(["users"], { filter: { color: "green" } });
    expect(green.map((i) => i.key)).toEqual(["theme"]);
    expect((await store.search(["users", "ada"])).map((i) => i.key).sort()).toEqual(["lang", "theme"]);
    expect((await store.listNamespaces({ prefix: ["users"] })).sort()).toEqual([
      ["users", "ada", "prefs"],
      ["users", "bob"],
    ]);
    expect(await store.listNamespaces({ prefix: ["users"], maxDepth: 2 })).toEqual(expect.arrayContaining([["users", "ada"]]));
    await store.delete(["users", "ada", "prefs"], "theme");
    expect(await store.get(["users", "ada", "prefs"], "theme")).toBeNull();
  });
});

function client() {
  return runtimeClient;
}
