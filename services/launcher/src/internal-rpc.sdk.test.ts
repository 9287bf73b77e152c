import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Client } from "@langchain/langgraph-sdk";
import {
  createRpcTransport,
  errorInfo,
  generateInternalSecret,
  Reason,
  runtimeCallerTokenOf,
  runtimeTokenOf,
  signStateWriteGrant,
  tokenSha256,
} from "@langopen/common";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import type { Checkpoint } from "@langopen/gen/langopen/data/v1/checkpoint_pb";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { until } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./test-fixtures/stack.js";

/*
 * The internal RPC ports of a running LangOpen (npm start's composition: the api-server, the
 * runtime in its own process, the worker, the gateway), attacked directly: nobody without the
 * installation's secret gets in, and the runtime's own token (what graph code could lay hands on)
 * reads and writes checkpoints and store items only for the runs it executes, or for a state
 * update the api-server granted.
 */

const PROJECT = fileURLToPath(new URL("./test-fixtures/internal-rpc/langgraph.json", import.meta.url));
const SECRET = generateInternalSecret();
const RUNTIME_TOKEN = runtimeTokenOf(SECRET);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The variables the launcher must keep from the runtime process, set here as if `npm start` had them. */
const LEAKABLE = {
  LANGOPEN_INTERNAL_SECRET: SECRET,
  LANGOPEN_RUNTIME_TOKEN: RUNTIME_TOKEN,
  LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: tokenSha256(runtimeCallerTokenOf(SECRET)),
};

let stack: TestStack;
let sdk: Client;
let db: pg.Client;
let internal: Transport;
let runtime: Transport;

beforeAll(async () => {
  Object.assign(process.env, LEAKABLE);
  stack = await startTestStack(PROJECT, { launcher: { internalSecret: SECRET } });
  sdk = new Client({ apiUrl: stack.url });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  internal = createRpcTransport(stack.rpcUrl, { token: SECRET });
  runtime = createRpcTransport(stack.rpcUrl, { token: RUNTIME_TOKEN });
}, 90_000);
afterAll(async () => {
  for (const key of Object.keys(LEAKABLE)) delete process.env[key];
  await db?.end();
  await stack?.stop();
});

/** The code, message and reason a call failed with; throws when it succeeded. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string; reason?: string }> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: Code[e.code], message: e.rawMessage, reason: errorInfo(e)?.reason };
  }
  throw new Error("the call succeeded");
}

/** A thread whose state is `{x}`, after a run of the keeper graph. */
async function threadWith(x: string): Promise<string> {
  const thread = await sdk.threads.create();
  await sdk.runs.wait(thread.thread_id, "keeper", { input: { x } });
  return thread.thread_id;
}

const stateOf = async (threadId: string) => (await sdk.threads.getState(threadId)).values;

/**
 * The thread's latest checkpoint with `x` set to `value`: written over the original (same id),
 * the thread's state says `value` from then on. `ns` moves it to another namespace instead.
 */
async function tampered(threadId: string, value: string, ns = ""): Promise<Checkpoint> {
  const { checkpoint } = await createClient(CheckpointService, internal).getCheckpoint({
    ref: { threadId, checkpointNs: "", checkpointId: "" },
  });
  if (!checkpoint?.ref) throw new Error(`thread ${threadId} has no checkpoint`);
  expect(checkpoint.type).toBe("json");
  const body = JSON.parse(decoder.decode(checkpoint.checkpoint)) as { channel_values: Record<string, unknown> };
  body.channel_values.x = value;
  checkpoint.checkpoint = encoder.encode(JSON.stringify(body));
  checkpoint.ref.checkpointNs = ns;
  if (checkpoint.parent) checkpoint.parent.checkpointNs = ns;
  return checkpoint;
}

const putBatch = (transport: Transport, checkpoints: Checkpoint[], extra: object = {}) =>
  createClient(CheckpointService, transport).putBatch({
    writes: checkpoints.map((checkpoint) => ({ kind: { case: "checkpoint", value: { checkpoint } } })),
    ...extra,
  });

/** A run of the slow graph on a thread of its own, once it runs: its ids and its lease epoch. */
async function runningRun(): Promise<{ threadId: string; runId: string; epoch: bigint }> {
  const thread = await sdk.threads.create();
  const run = await sdk.runs.create(thread.thread_id, "slow", { input: {}, config: { configurable: { ticks: 600 } } });
  const epoch = await until(async () => {
    const { rows } = await db.query<{ status: string; epoch: string }>("SELECT status, epoch FROM runs WHERE run_id = $1", [
      run.run_id,
    ]);
    return rows[0]?.status === "running" ? BigInt(rows[0].epoch) : undefined;
  }, "the slow run to run");
  // Its first checkpoint is written a moment after the claim: the tests read and rewrite it.
  await until(async () => {
    const { checkpoint } = await createClient(CheckpointService, internal).getCheckpoint({
      ref: { threadId: thread.thread_id, checkpointNs: "", checkpointId: "" },
    });
    return checkpoint?.ref !== undefined;
  }, "the slow run's first checkpoint");
  return { threadId: thread.thread_id, runId: run.run_id, epoch };
}

describe("the internal doors of a running LangOpen", () => {
  it("answer health checks without a token (probes send no headers), and nothing else", async () => {
    for (const url of [stack.rpcUrl, stack.runtimeUrl]) {
      const health = createClient(Health, createRpcTransport(url));
      expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    expect(await refusal(createClient(ThreadService, createRpcTransport(stack.rpcUrl)).searchThreads({}))).toMatchObject({
      code: "Unauthenticated",
      message: expect.stringContaining("carries no authorization header"),
    });
    expect(await refusal(createClient(RuntimeService, createRpcTransport(stack.runtimeUrl)).listGraphs({}))).toMatchObject({
      code: "Unauthenticated",
    });
    // The secret opens the data plane; a runtime opens to the caller token derived from it, and the
    // secret itself is not sent there (graph code runs in that process and could read it).
    await createClient(ThreadService, internal).searchThreads({});
    const callerToken = runtimeCallerTokenOf(SECRET);
    expect(
      (await createClient(RuntimeService, createRpcTransport(stack.runtimeUrl, { token: callerToken })).listGraphs({})).graphs,
    ).toHaveLength(3);
    expect(
      (await refusal(createClient(RuntimeService, createRpcTransport(stack.runtimeUrl, { token: SECRET })).listGraphs({}))).code,
    ).toBe("Unauthenticated");
  });

  it("give graph code nothing of the data plane with what a runtime's callers send it", async () => {
    // What graph code could read off a call to its runtime: the caller token. No data-plane server takes it.
    const stolen = createRpcTransport(stack.rpcUrl, { token: runtimeCallerTokenOf(SECRET) });
    expect((await refusal(createClient(ThreadService, stolen).searchThreads({}))).code).toBe("Unauthenticated");
    expect((await refusal(createClient(StoreService, stolen).searchItems({ namespacePrefix: [] }))).code).toBe("Unauthenticated");
  });

  it("refuse the PutCheckpoint that rewrote a thread's state, without a token or with a wrong one", async () => {
    const threadId = await threadWith("original");
    const checkpoint = await tampered(threadId, "TAMPERED-VIA-DIRECT-RPC");
    const put = (transport: Transport) => createClient(CheckpointService, transport).putCheckpoint({ checkpoint });
    expect((await refusal(put(createRpcTransport(stack.rpcUrl)))).code).toBe("Unauthenticated");
    expect(await refusal(put(createRpcTransport(stack.rpcUrl, { token: generateInternalSecret() })))).toEqual({
      code: "Unauthenticated",
      message: "The credential is not accepted by this internal service",
      reason: undefined,
    });
    expect(await stateOf(threadId)).toEqual({ x: "original" });

    // The same write with the secret (what the worker holds) does rewrite it: the refusals above are real.
    await put(internal);
    expect(await stateOf(threadId)).toEqual({ x: "TAMPERED-VIA-DIRECT-RPC" });
  });

  it("let the runtime's token read, and refuse its writes without a fence or a grant (the state unchanged)", async () => {
    const threadId = await threadWith("original");
    const checkpoints = createClient(CheckpointService, runtime);
    const read = await checkpoints.getCheckpoint({ ref: { threadId, checkpointNs: "", checkpointId: "" } });
    expect(read.checkpoint?.ref?.threadId).toBe(threadId);
    expect((await checkpoints.listCheckpoints({ threadId })).checkpoints.length).toBeGreaterThan(0);

    const checkpoint = await tampered(threadId, "TAMPERED");
    const denied = {
      code: "PermissionDenied",
      message:
        "The runtime writes checkpoints only for a run (with the run's fence) or for a state update (with the api-server's grant)",
    };
    expect(await refusal(checkpoints.putCheckpoint({ checkpoint }))).toMatchObject(denied);
    expect(await refusal(putBatch(runtime, [checkpoint]))).toMatchObject(denied);
    expect(
      await refusal(
        checkpoints.putWrites({
          ref: checkpoint.ref,
          writes: [{ taskId: "t", channel: "x", type: "json", value: encoder.encode('"TAMPERED"'), idx: 0 }],
        }),
      ),
    ).toMatchObject(denied);
    expect(await stateOf(threadId)).toEqual({ x: "original" });
  });

  it("refuse the runtime's token everything a runtime does not need (PERMISSION_DENIED), and at the runtime itself", async () => {
    const threadId = await threadWith("kept");
    const denied = async (call: Promise<unknown>) => expect((await refusal(call)).code).toBe("PermissionDenied");
    await denied(createClient(RunService, runtime).listRuns({ threadId }));
    await denied(createClient(RunService, runtime).createRun({ threadId, spec: { assistantId: "keeper" } }));
    await denied(createClient(ThreadService, runtime).getThread({ threadId }));
    await denied(createClient(ThreadService, runtime).deleteThread({ threadId }));
    await denied(createClient(AssistantService, runtime).searchAssistants({}));
    await denied(createClient(CronService, runtime).searchCrons({}));
    await denied(createClient(CheckpointService, runtime).deleteCheckpoints({ threadId }));
    expect(await refusal(createClient(ThreadService, runtime).getThread({ threadId }))).toMatchObject({
      message: "The runtime credential may not call langopen.data.v1.ThreadService/GetThread",
    });
    // The runtime accepts only the secret: its own token cannot drive it (or another runtime).
    const runtimePort = createRpcTransport(stack.runtimeUrl, { token: RUNTIME_TOKEN });
    expect((await refusal(createClient(RuntimeService, runtimePort).listGraphs({}))).code).toBe("Unauthenticated");
    expect(await stateOf(threadId)).toEqual({ x: "kept" });
    expect((await sdk.threads.get(threadId)).thread_id).toBe(threadId);
  });

  it("fence the runtime's writes: only a run holding its epoch, on its own thread", async () => {
    const victim = await threadWith("original");
    const run = await runningRun();
    const fence = { runId: run.runId, epoch: run.epoch };

    // A running run's fence does not open another thread, alone or in a batch with its own.
    const foreign = await tampered(victim, "TAMPERED");
    expect(await refusal(putBatch(runtime, [foreign], { fence }))).toMatchObject({
      code: "PermissionDenied",
      message: `run ${run.runId} belongs to thread ${run.threadId}, not to thread ${victim}`,
    });
    expect((await refusal(createClient(CheckpointService, runtime).putCheckpoint({ checkpoint: foreign, fence }))).code).toBe(
      "PermissionDenied",
    );
    const own = await tampered(run.threadId, "probe", "probe");
    expect((await refusal(putBatch(runtime, [own, foreign], { fence }))).code).toBe("PermissionDenied");
    // Nor does the secret's holder get another thread written with a run's fence (the worker answers the runtime's calls so).
    expect((await refusal(putBatch(internal, [foreign], { fence }))).code).toBe("PermissionDenied");
    expect(await stateOf(victim)).toEqual({ x: "original" });

    // An epoch the run no longer holds is stale.
    expect(await refusal(putBatch(runtime, [own], { fence: { ...fence, epoch: run.epoch - 1n } }))).toMatchObject({
      code: "FailedPrecondition",
      reason: Reason.StaleEpoch,
    });
    // The run's own fence on its own thread is accepted (the same write as above, so the refusals are real).
    await putBatch(runtime, [own], { fence });
    const written = await createClient(CheckpointService, runtime).getCheckpoint({
      ref: { threadId: run.threadId, checkpointNs: "probe", checkpointId: "" },
    });
    expect(written.checkpoint?.ref?.checkpointId).toBe(own.ref?.checkpointId);

    // Store items: the runtime writes them only with a fence that holds.
    const store = createClient(StoreService, runtime);
    const item = { namespace: ["fenced", run.runId], key: "k", valueJson: encoder.encode('{"v":1}') };
    const stored = async () => (await createClient(StoreService, runtime).getItem({ namespace: item.namespace, key: "k" })).item;
    expect(await refusal(store.putItem(item))).toMatchObject({
      code: "PermissionDenied",
      message: "The runtime writes store items only for a run it executes (with the run's fence)",
    });
    expect(await refusal(store.putItem({ ...item, fence: { ...fence, epoch: run.epoch + 1n } }))).toMatchObject({
      code: "FailedPrecondition",
      reason: Reason.StaleEpoch,
    });
    expect(await stored()).toBeUndefined();
    await store.putItem({ ...item, fence });
    expect(decoder.decode((await stored())?.valueJson)).toBe('{"v": 1}');
    expect((await refusal(store.deleteItem({ namespace: item.namespace, key: "k" }))).code).toBe("PermissionDenied");
    expect(await stored()).toBeDefined();

    // Once the run has ended its fence opens nothing.
    await sdk.runs.cancel(run.threadId, run.runId, true);
    expect((await refusal(putBatch(runtime, [own], { fence }))).reason).toBe(Reason.StaleEpoch);
    expect((await refusal(store.deleteItem({ namespace: item.namespace, key: "k", fence }))).reason).toBe(Reason.StaleEpoch);
    expect(await stored()).toBeDefined();
    // The secret's holders write the store without a fence, as before.
    await createClient(StoreService, internal).deleteItem({ namespace: item.namespace, key: "k" });
    expect(await stored()).toBeUndefined();
  });

  it("update a thread's state through the public API (the runtime writes with the api-server's grant)", async () => {
    const threadId = await threadWith("original");
    await sdk.threads.updateState(threadId, { values: { x: "updated" } });
    expect(await stateOf(threadId)).toEqual({ x: "updated" });
  });

  it("refuse a forged, expired or another thread's grant; the api-server's own is accepted", async () => {
    const threadId = await threadWith("original");
    const other = await threadWith("other");
    const checkpoint = await tampered(threadId, "TAMPERED");
    const now = Date.now();
    const forged = [
      { threadId, expiresAtMs: BigInt(now + 60_000), signature: randomBytes(32) },
      signStateWriteGrant(generateInternalSecret(), threadId),
      signStateWriteGrant(SECRET, threadId, now - 120_000, 60_000),
      signStateWriteGrant(SECRET, other),
    ];
    for (const grant of forged) {
      expect(await refusal(putBatch(runtime, [checkpoint], { grant }))).toMatchObject({
        code: "PermissionDenied",
        message: `The state-write grant is not valid for thread ${threadId}: forged, expired or of another thread`,
      });
    }
    expect(await stateOf(threadId)).toEqual({ x: "original" });
    await putBatch(runtime, [checkpoint], { grant: signStateWriteGrant(SECRET, threadId) });
    expect(await stateOf(threadId)).toEqual({ x: "TAMPERED" });
    expect(await stateOf(other)).toEqual({ x: "other" });
  });

  it("keep the secret and the runtime's credentials out of the runtime process's environment", async () => {
    const secrets = Object.values(LEAKABLE);
    // The launcher's own environment has them all (as `npm start` would): none may reach the graphs.
    for (const value of secrets) expect(JSON.stringify(process.env)).toContain(value);
    // What the launcher does give it (its scratch folder), so that a probe that sees nothing counts for nothing.
    const result = (await sdk.runs.wait(null, "probe", { input: { secrets: [...secrets, "TMPDIR"] } })) as {
      found: string[];
    };
    expect(result.found).toEqual(["TMPDIR"]);
  });
});
