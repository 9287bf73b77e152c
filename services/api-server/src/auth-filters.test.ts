import { randomUUID } from "node:crypto";
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { type CallOptions, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CALLER_HEADER, callerHeaders, createLogger, jsonBytes, parseJsonBytes } from "@langopen/common";
import { createLocalSignals, defaultAssistantId } from "@langopen/data-plane";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { type FilterConditionSchema, FilterOperator } from "@langopen/gen/langopen/data/v1/caller_pb";
import { IfExists } from "@langopen/gen/langopen/data/v1/common_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { type RunSpecSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import { IfNotExists, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { TtlStrategy } from "@langopen/gen/langopen/data/v1/thread_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "./compose.js";

/*
 * The project's auth filters, applied by the api-server to every call that names its caller (the
 * `langopen-caller-bin` header the gateway sends), on real Postgres through the real gRPC port:
 * two users whose handlers return owner filters, every answer upstream gives a mismatch, searches
 * and counts that stay right past one page, the store's namespace filter, and the caller's user
 * in the runs they create.
 */

let server: ApiServer;
let drop: () => Promise<void>;
let db: pg.Pool;
let assistants: ReturnType<typeof createClient<typeof AssistantService>>;
let threads: ReturnType<typeof createClient<typeof ThreadService>>;
let runs: ReturnType<typeof createClient<typeof RunService>>;
let crons: ReturnType<typeof createClient<typeof CronService>>;
let store: ReturnType<typeof createClient<typeof StoreService>>;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  server = await startApiServer(
    { databaseUrl: database.url, host: "127.0.0.1", port: 0, graphIds: ["agent"], signals: createLocalSignals() },
    createLogger({ service: "test", level: "silent" }),
  );
  db = new pg.Pool({ connectionString: database.url, max: 2 });
  const transport = createGrpcTransport({ baseUrl: server.rpc.url });
  assistants = createClient(AssistantService, transport);
  threads = createClient(ThreadService, transport);
  runs = createClient(RunService, transport);
  crons = createClient(CronService, transport);
  store = createClient(StoreService, transport);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await server?.stop(500);
  await drop?.();
});

type Condition = MessageInitShape<typeof FilterConditionSchema>;
const eq = (field: string, value: unknown): Condition => ({
  field,
  operator: FilterOperator.EQ,
  valueJson: JSON.stringify(value),
});
const contains = (field: string, value: unknown): Condition => ({
  field,
  operator: FilterOperator.CONTAINS,
  valueJson: JSON.stringify(value),
});

/** The call options of a call the gateway makes for a user, with the filter their handler returned. */
function as(identity: string, ...filter: Condition[]): CallOptions {
  const user = { identity, display_name: identity, permissions: ["write"], is_authenticated: true, team: `${identity}-team` };
  return { headers: callerHeaders({ identity, permissions: ["write"], userJson: jsonBytes(user), filter }) };
}

const ALICE = as("alice", eq("owner", "alice"));
const BOB = as("bob", eq("owner", "bob"));
const ALICE_STORE = as("alice", contains("namespace", "alice"));
const BOB_STORE = as("bob", contains("namespace", "bob"));

/** The error a call failed with (undefined when it did not fail). */
const failure = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );

/** The failure of a server stream, read up to its first message. */
const streamFailure = (stream: AsyncIterable<unknown>) =>
  failure(
    (async () => {
      for await (const _ of stream) return;
    })(),
  );

/** NOT_FOUND worded exactly as for a resource that does not exist, so a miss tells nothing. */
async function expectHidden(call: Promise<unknown>, kind: string, id: string) {
  const err = await failure(call);
  expect(err?.code, `${kind} ${id}`).toBe(Code.NotFound);
  expect(err?.rawMessage).toBe(`${kind} ${id} not found`);
}

const kwargsOf = (run: { kwargsJson: Uint8Array } | undefined) =>
  parseJsonBytes<{ config: { configurable?: Record<string, unknown> } }>(run?.kwargsJson ?? new Uint8Array(), {
    config: {},
  });

describe("the caller header", () => {
  it("refuses a header that is not a Caller with INVALID_ARGUMENT, and writes nothing", async () => {
    const threadId = randomUUID();
    const bad = [
      { [CALLER_HEADER]: "%%% not base64 %%%" },
      callerHeaders({ identity: "x", filter: [{ field: "owner", operator: FilterOperator.UNSPECIFIED, valueJson: '"x"' }] }),
      callerHeaders({ identity: "x", filter: [{ field: "owner", operator: FilterOperator.EQ, valueJson: "{not json" }] }),
      callerHeaders({ identity: "x", userJson: jsonBytes(["not", "an", "object"]) }),
    ];
    for (const headers of bad) {
      const err = await failure(threads.createThread({ threadId }, { headers }));
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toBe("Malformed caller header");
      const streamed = await streamFailure(threads.streamThread({ threadId }, { headers }));
      expect(streamed?.code).toBe(Code.InvalidArgument);
    }
    expect((await failure(threads.getThread({ threadId })))?.code).toBe(Code.NotFound);
  });

  it("leaves a call without it unrestricted, and a caller whose handler returned no filter too", async () => {
    const { thread: a } = await threads.createThread({ metadata: { owner: "alice" } }, ALICE);
    const { thread: b } = await threads.createThread({ metadata: { owner: "bob" } }, BOB);
    const ids = [a?.threadId, b?.threadId] as string[];
    expect((await threads.searchThreads({ ids, limit: 10 })).threads).toHaveLength(2);
    expect((await threads.searchThreads({ ids, limit: 10 }, as("carol"))).threads).toHaveLength(2);
    expect((await threads.searchThreads({ ids, limit: 10 }, ALICE)).threads.map((t) => t.threadId)).toEqual([a?.threadId]);
  });
});

describe("assistants", () => {
  it("hides another user's assistant: NOT_FOUND on every read and change, ALREADY_EXISTS on a create of its id", async () => {
    const { assistant } = await assistants.createAssistant(
      { graphId: "agent", name: "alice's", metadata: { owner: "alice" } },
      ALICE,
    );
    const id = assistant?.assistantId as string;
    await expectHidden(assistants.getAssistant({ assistantId: id }, BOB), "Assistant", id);
    await expectHidden(assistants.updateAssistant({ assistantId: id, name: "bob's now" }, BOB), "Assistant", id);
    await expectHidden(assistants.deleteAssistant({ assistantId: id }, BOB), "Assistant", id);
    await expectHidden(assistants.setLatestAssistantVersion({ assistantId: id, version: 1 }, BOB), "Assistant", id);
    await expectHidden(assistants.listAssistantVersions({ assistantId: id }, BOB), "Assistant", id);
    await expectHidden(assistants.getAssistantGraph({ assistantId: id }, BOB), "Assistant", id);
    await expectHidden(assistants.getAssistantSchemas({ assistantId: id }, BOB), "Assistant", id);
    const absent = randomUUID();
    await expectHidden(assistants.getAssistant({ assistantId: absent }, BOB), "Assistant", absent);

    for (const ifExists of [IfExists.RAISE, IfExists.DO_NOTHING]) {
      const err = await failure(assistants.createAssistant({ graphId: "agent", assistantId: id, ifExists }, BOB));
      expect(err?.code).toBe(Code.AlreadyExists);
    }
    const again = await assistants.createAssistant(
      { graphId: "agent", assistantId: id, ifExists: IfExists.DO_NOTHING, metadata: { owner: "alice" } },
      ALICE,
    );
    expect(again.assistant?.name).toBe("alice's");
    const mine = await assistants.getAssistant({ assistantId: id }, ALICE);
    expect(mine.assistant).toMatchObject({ name: "alice's", version: 1 });
  });

  it("searches and counts only the caller's, and lists only the versions their filter matches", async () => {
    const { assistant: bobs } = await assistants.createAssistant({ graphId: "agent", metadata: { owner: "bob" } }, BOB);
    const seen = await assistants.searchAssistants({ limit: 100 }, BOB);
    expect(seen.assistants.map((a) => a.assistantId)).toContain(bobs?.assistantId);
    expect(seen.assistants.every((a) => a.metadata?.owner === "bob")).toBe(true);
    expect(seen.totalSize).toBe(BigInt(seen.assistants.length));
    expect((await assistants.countAssistants({}, BOB)).count).toBe(BigInt(seen.assistants.length));
    // The graph's default assistant has no owner: no owner filter matches it.
    expect(seen.assistants.map((a) => a.assistantId)).not.toContain(defaultAssistantId("agent"));

    const { assistant } = await assistants.createAssistant({ graphId: "agent", metadata: { owner: "alice" } }, ALICE);
    const id = assistant?.assistantId as string;
    await assistants.updateAssistant({ assistantId: id, metadata: { stage: "prod" } }, ALICE);
    expect((await assistants.listAssistantVersions({ assistantId: id }, ALICE)).versions.map((v) => v.version)).toEqual([2, 1]);
    const prodOnly = await assistants.listAssistantVersions({ assistantId: id }, as("ops", eq("stage", "prod")));
    expect(prodOnly.versions.map((v) => v.version)).toEqual([2]);
  });
});

describe("threads", () => {
  it("hides another user's thread: NOT_FOUND on reads and changes, ALREADY_EXISTS on copy and on a create of its id", async () => {
    const { thread } = await threads.createThread({ metadata: { owner: "alice", topic: "secret" } }, ALICE);
    const id = thread?.threadId as string;
    await expectHidden(threads.getThread({ threadId: id }, BOB), "Thread", id);
    await expectHidden(threads.updateThread({ threadId: id, metadata: { topic: "stolen" } }, BOB), "Thread", id);
    await expectHidden(threads.getThreadState({ threadId: id }, BOB), "Thread", id);
    await expectHidden(threads.getThreadHistory({ threadId: id }, BOB), "Thread", id);
    await expectHidden(threads.updateThreadState({ threadId: id, valuesJson: jsonBytes({}) }, BOB), "Thread", id);
    await expectHidden(threads.patchThreadState({ threadId: id, metadata: { x: 1 } }, BOB), "Thread", id);
    await expectHidden(threads.getThreadStorage({ threadId: id }, BOB), "Thread", id);
    await expectHidden(threads.deleteThread({ threadId: id }, BOB), "Thread", id);
    const stream = await streamFailure(threads.streamThread({ threadId: id }, BOB));
    expect(stream?.code).toBe(Code.NotFound);

    const copy = await failure(threads.copyThread({ threadId: id }, BOB));
    expect(copy?.code).toBe(Code.AlreadyExists);
    const absent = randomUUID();
    expect((await failure(threads.copyThread({ threadId: absent }, BOB)))?.code).toBe(Code.NotFound);
    for (const ifExists of [IfExists.RAISE, IfExists.DO_NOTHING]) {
      expect((await failure(threads.createThread({ threadId: id, ifExists }, BOB)))?.code).toBe(Code.AlreadyExists);
    }

    const kept = await threads.getThread({ threadId: id }, ALICE);
    expect(kept.thread?.metadata).toEqual({ owner: "alice", topic: "secret" });
    expect((await threads.getThreadState({ threadId: id }, ALICE)).stateJson.length).toBeGreaterThan(0);
    expect((await threads.createThread({ threadId: id, ifExists: IfExists.DO_NOTHING }, ALICE)).thread?.threadId).toBe(id);
    const copied = await threads.copyThread({ threadId: id }, ALICE);
    expect(copied.thread?.metadata).toMatchObject({ owner: "alice" });
    const copies = await db.query("SELECT 1 FROM threads WHERE metadata @> $1::jsonb", [JSON.stringify({ topic: "secret" })]);
    expect(copies.rowCount).toBe(2);
  });

  it("prunes only the threads the caller's filter matches", async () => {
    const { thread: a } = await threads.createThread({ metadata: { owner: "alice" } }, ALICE);
    const { thread: b } = await threads.createThread({ metadata: { owner: "bob" } }, BOB);
    const ids = [a?.threadId, b?.threadId] as string[];
    const pruned = await threads.pruneThreads({ threadIds: ids, strategy: TtlStrategy.DELETE }, BOB);
    expect(pruned.prunedCount).toBe(1n);
    expect((await threads.getThread({ threadId: ids[0] as string }, ALICE)).thread?.threadId).toBe(ids[0]);
    expect((await failure(threads.getThread({ threadId: ids[1] as string })))?.code).toBe(Code.NotFound);
  });

  it("searches, counts and pages only the caller's threads, past one page of them and among many others", async () => {
    const batch = randomUUID();
    const mine = await Promise.all(
      Array.from({ length: 25 }, () => threads.createThread({ metadata: { owner: "alice", batch } }, ALICE)),
    );
    const bobs = await Promise.all(
      Array.from({ length: 7 }, () => threads.createThread({ metadata: { owner: "bob", batch } }, BOB)),
    );
    expect((await threads.countThreads({ metadata: { batch } }, BOB)).count).toBe(7n);
    expect((await threads.countThreads({ metadata: { batch } }, ALICE)).count).toBe(25n);
    expect((await threads.countThreads({ metadata: { batch } })).count).toBe(32n);

    const pagesOf = async (options: CallOptions, limit: number, total: number) => {
      const seen: string[] = [];
      for (let offset = 0; offset < total + limit; offset += limit) {
        const page = await threads.searchThreads({ metadata: { batch }, limit, offset }, options);
        expect(page.totalSize).toBe(BigInt(total));
        seen.push(...page.threads.map((t) => t.threadId));
      }
      return seen.sort();
    };
    expect(await pagesOf(BOB, 5, 7)).toEqual(bobs.map((r) => r.thread?.threadId).sort());
    expect(await pagesOf(ALICE, 10, 25)).toEqual(mine.map((r) => r.thread?.threadId).sort());
  });

  it("applies $eq, $contains of a value and of a list, several conditions at once, and a missing key", async () => {
    const batch = randomUUID();
    const make = async (name: string, metadata: Record<string, unknown>) => {
      await threads.createThread({ metadata: { ...metadata, name, batch } });
    };
    await make("red", { teams: ["red"], level: 1 });
    await make("red-blue", { teams: ["red", "blue"], level: 2 });
    await make("blue", { teams: ["blue"], level: 2 });
    await make("scalar", { teams: "red", level: 2 });
    await make("none", {});
    const names = async (...filter: Condition[]) => {
      const found = await threads.searchThreads({ metadata: { batch }, limit: 100 }, as("x", ...filter));
      const count = await threads.countThreads({ metadata: { batch } }, as("x", ...filter));
      expect(count.count).toBe(BigInt(found.threads.length));
      return found.threads.map((t) => t.metadata?.name).sort();
    };
    expect(await names(contains("teams", "red"))).toEqual(["red", "red-blue"]);
    expect(await names(contains("teams", ["red", "blue"]))).toEqual(["red-blue"]);
    expect(await names(eq("teams", ["blue"]))).toEqual(["blue"]);
    expect(await names(eq("teams", "red"))).toEqual(["scalar"]);
    expect(await names(contains("teams", "blue"), eq("level", 2))).toEqual(["blue", "red-blue"]);
    expect(await names(contains("teams", "red"), eq("level", 2))).toEqual(["red-blue"]);
    expect(await names(eq("missing", "x"))).toEqual([]);
    expect(await names(contains("missing", "x"))).toEqual([]);
  });
});

describe("runs", () => {
  const spec = (metadata: JsonObject = {}, configurable?: JsonObject): MessageInitShape<typeof RunSpecSchema> => ({
    assistantId: "agent",
    inputJson: jsonBytes({}),
    metadata,
    config: configurable ? { configurable } : undefined,
  });

  it("refuses runs on another user's thread and hides its runs: NOT_FOUND everywhere, nothing changed", async () => {
    const { thread } = await threads.createThread({ metadata: { owner: "alice" } }, ALICE);
    const threadId = thread?.threadId as string;
    const { run } = await runs.createRun({ threadId, spec: spec() }, ALICE);
    const runId = run?.runId as string;

    await expectHidden(runs.createRun({ threadId, spec: spec() }, BOB), "Thread", threadId);
    await expectHidden(runs.createRun({ threadId, spec: spec(), ifNotExists: IfNotExists.CREATE }, BOB), "Thread", threadId);
    await expectHidden(runs.createRuns({ runs: [{ threadId, spec: spec() }] }, BOB), "Thread", threadId);
    await expectHidden(runs.createAndJoinRun({ run: { threadId, spec: spec() } }, BOB), "Thread", threadId);
    expect((await streamFailure(runs.createAndStreamRun({ run: { threadId, spec: spec() } }, BOB)))?.code).toBe(Code.NotFound);
    await expectHidden(
      runs.createOrResumeRun({ run: { threadId, spec: spec(), ifNotExists: IfNotExists.CREATE } }, BOB),
      "Thread",
      threadId,
    );
    await expectHidden(
      runs.createOrResumeRun({ run: { threadId, spec: { inputJson: jsonBytes({}) } } }, BOB),
      "Thread",
      threadId,
    );
    await expectHidden(runs.getRun({ threadId, runId }, BOB), "Run", runId);
    await expectHidden(runs.getRun({ runId }, BOB), "Run", runId);
    await expectHidden(runs.listRuns({ threadId }, BOB), "Thread", threadId);
    await expectHidden(runs.joinRun({ threadId, runId }, BOB), "Run", runId);
    await expectHidden(runs.deleteRun({ threadId, runId }, BOB), "Run", runId);
    await expectHidden(runs.cancelRun({ threadId, runId }, BOB), "Run", runId);
    await expectHidden(runs.cancelRun({ runId, assistantId: "agent" }, BOB), "Run", runId);
    expect((await streamFailure(runs.streamRun({ threadId, runId, lastEventId: "-1" }, BOB)))?.code).toBe(Code.NotFound);
    expect((await streamFailure(runs.streamRun({ runId }, BOB)))?.code).toBe(Code.NotFound);
    expect((await runs.cancelRuns({ threadId }, BOB)).cancelledCount).toBe(0n);
    expect((await runs.cancelRuns({ runIds: [runId] }, BOB)).cancelledCount).toBe(0n);

    const listed = await runs.listRuns({ threadId }, ALICE);
    expect(listed.runs.map((r) => [r.runId, r.status])).toEqual([[runId, RunStatus.PENDING]]);
    expect((await runs.getRun({ runId }, ALICE)).run?.runId).toBe(runId);
    const cancelled = await runs.cancelRun({ threadId, runId }, ALICE);
    expect(cancelled.run?.status).toBe(RunStatus.INTERRUPTED);
  });

  it("gives a thread a run creates the run's metadata, so it belongs to its creator", async () => {
    const threadId = randomUUID();
    await runs.createRun({ threadId, spec: spec({ owner: "bob" }), ifNotExists: IfNotExists.CREATE }, BOB);
    const { thread } = await threads.getThread({ threadId }, BOB);
    expect(thread?.metadata).toMatchObject({ owner: "bob", graph_id: "agent", assistant_id: defaultAssistantId("agent") });
    await expectHidden(threads.getThread({ threadId }, ALICE), "Thread", threadId);

    const { run: stateless } = await runs.createRun({ threadId: "", spec: spec({ owner: "bob" }) }, BOB);
    expect((await threads.getThread({ threadId: stateless?.threadId as string }, BOB)).thread?.metadata).toMatchObject({
      owner: "bob",
    });

    const resumedOn = randomUUID();
    await runs.createOrResumeRun(
      { run: { threadId: resumedOn, spec: spec({ owner: "bob" }), ifNotExists: IfNotExists.CREATE } },
      BOB,
    );
    expect((await threads.getThread({ threadId: resumedOn }, BOB)).thread?.metadata).toMatchObject({
      owner: "bob",
      graph_id: "agent",
    });
  });

  it("puts the caller in the run's configurable, over what the client sent there", async () => {
    const { thread } = await threads.createThread({ metadata: { owner: "alice" } }, ALICE);
    const threadId = thread?.threadId as string;
    const forged = {
      langgraph_auth_user_id: "mallory",
      langgraph_auth_user: { identity: "mallory" },
      langgraph_auth_permissions: ["everything"],
      model: "small",
    };
    const expected = {
      langgraph_auth_user_id: "alice",
      langgraph_auth_user: { identity: "alice", permissions: ["write"], team: "alice-team" },
      langgraph_auth_permissions: ["write"],
      model: "small",
    };
    const { run } = await runs.createRun({ threadId, spec: spec({}, forged) }, ALICE);
    expect(kwargsOf(run).config.configurable).toMatchObject(expected);
    expect(kwargsOf((await runs.getRun({ runId: run?.runId as string }, ALICE)).run).config.configurable).toMatchObject(expected);
    const resumed = await runs.createOrResumeRun({ run: { threadId, spec: spec({}, forged) } }, ALICE);
    expect(kwargsOf(resumed.run).config.configurable).toMatchObject(expected);
    const { runs: batch } = await runs.createRuns({ runs: [{ threadId: "", spec: spec({}, forged) }] }, ALICE);
    expect(kwargsOf(batch[0]).config.configurable).toMatchObject(expected);

    // Without a caller (no auth configured), the run's config is the client's.
    const { run: open } = await runs.createRun({ threadId, spec: spec({}, forged) });
    expect(kwargsOf(open).config.configurable).toMatchObject(forged);
  });
});

describe("crons", () => {
  it("hides another user's cron, and keeps its creator (not their filter) for the runs it will start", async () => {
    const payload = { assistantId: "agent", inputJson: jsonBytes({}) };
    const { cron } = await crons.createCron(
      { schedule: "0 0 1 1 *", payload, enabled: true, metadata: { owner: "alice" } },
      ALICE,
    );
    const cronId = cron?.cronId as string;
    expect(cron?.userId).toBe("alice");
    await expectHidden(crons.getCron({ cronId }, BOB), "Cron", cronId);
    await expectHidden(crons.updateCron({ cronId, enabled: false }, BOB), "Cron", cronId);
    await expectHidden(crons.deleteCron({ cronId }, BOB), "Cron", cronId);
    expect((await crons.searchCrons({ limit: 100 }, BOB)).crons.map((c) => c.cronId)).not.toContain(cronId);
    expect((await crons.countCrons({}, BOB)).count).toBe(0n);
    expect((await crons.searchCrons({ limit: 100 }, ALICE)).crons.map((c) => c.cronId)).toContain(cronId);
    expect((await crons.getCron({ cronId }, ALICE)).cron?.enabled).toBe(true);

    const { rows } = await db.query<{ creator: unknown }>("SELECT creator FROM crons WHERE cron_id = $1", [cronId]);
    expect(rows[0]?.creator).toEqual({
      identity: "alice",
      permissions: ["write"],
      user: { identity: "alice", display_name: "alice", permissions: ["write"], is_authenticated: true, team: "alice-team" },
    });

    const { thread } = await threads.createThread({ metadata: { owner: "alice" } }, ALICE);
    const threadId = thread?.threadId as string;
    await expectHidden(
      crons.createCron({ threadId, schedule: "0 0 1 1 *", payload, metadata: { owner: "bob" } }, BOB),
      "Thread",
      threadId,
    );
  });
});

describe("store", () => {
  const value = (v: unknown) => jsonBytes(v);

  it("scopes a user to the namespaces holding their identity, with upstream's answers", async () => {
    await store.putItem({ namespace: ["alice", "notes"], key: "n1", valueJson: value({ text: "hi" }) }, ALICE_STORE);
    const mine = await store.getItem({ namespace: ["alice", "notes"], key: "n1" }, ALICE_STORE);
    expect(parseJsonBytes(mine.item?.valueJson ?? new Uint8Array(), null)).toEqual({ text: "hi" });

    const denied = await failure(store.putItem({ namespace: ["ALL"], key: "n1", valueJson: value({}) }, ALICE_STORE));
    expect(denied?.code).toBe(Code.PermissionDenied);
    expect((await store.getItem({ namespace: ["ALL"], key: "n1" })).item).toBeUndefined();

    const hidden = [
      () => store.getItem({ namespace: ["alice", "notes"], key: "n1" }, BOB_STORE),
      () => store.putItem({ namespace: ["alice", "notes"], key: "n1", valueJson: value({ text: "bob was here" }) }, BOB_STORE),
      () => store.deleteItem({ namespace: ["alice", "notes"], key: "n1" }, BOB_STORE),
    ];
    for (const call of hidden) expect((await failure(call()))?.code).toBe(Code.NotFound);
    const untouched = await store.getItem({ namespace: ["alice", "notes"], key: "n1" });
    expect(parseJsonBytes(untouched.item?.valueJson ?? new Uint8Array(), null)).toEqual({ text: "hi" });

    // Absent items: a get answers none; a delete is refused when the caller could not have had it.
    expect((await store.getItem({ namespace: ["alice", "gone"], key: "k" }, BOB_STORE)).item).toBeUndefined();
    expect((await failure(store.deleteItem({ namespace: ["alice", "gone"], key: "k" }, BOB_STORE)))?.code).toBe(
      Code.PermissionDenied,
    );
    await store.deleteItem({ namespace: ["bob", "gone"], key: "k" }, BOB_STORE);
    await store.deleteItem({ namespace: ["alice", "notes"], key: "n1" }, ALICE_STORE);
    expect((await store.getItem({ namespace: ["alice", "notes"], key: "n1" })).item).toBeUndefined();
  });

  it("searches and lists only what the caller's filter matches, in SQL, past one page", async () => {
    const tag = randomUUID();
    for (let i = 0; i < 15; i++) {
      await store.putItem({ namespace: ["alice", tag, `${i % 3}`], key: `a${i}`, valueJson: value({ tag }) }, ALICE_STORE);
      await store.putItem({ namespace: ["bob", tag], key: `b${i}`, valueJson: value({ tag }) }, BOB_STORE);
    }
    const filterJson = value({ tag });
    const page1 = await store.searchItems({ namespacePrefix: [], filterJson, limit: 10, offset: 0 }, BOB_STORE);
    const page2 = await store.searchItems({ namespacePrefix: [], filterJson, limit: 10, offset: 10 }, BOB_STORE);
    const bobs = [...page1.items, ...page2.items];
    expect(page1.items).toHaveLength(10);
    expect(bobs.map((i) => i.key).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `b${i}`).sort());
    expect(bobs.every((i) => i.namespace[0] === "bob")).toBe(true);
    expect((await store.searchItems({ namespacePrefix: ["alice"], filterJson, limit: 100 }, BOB_STORE)).items).toEqual([]);
    expect((await store.searchItems({ namespacePrefix: ["alice"], filterJson, limit: 100 }, ALICE_STORE)).items).toHaveLength(15);

    const namespaces = await store.listNamespaces({ limit: 100 }, BOB_STORE);
    expect(namespaces.namespaces.length).toBeGreaterThan(0);
    expect(namespaces.namespaces.every((ns) => ns.labels.includes("bob"))).toBe(true);
    const alices = await store.listNamespaces({ prefix: ["alice", tag], limit: 2, offset: 1 }, ALICE_STORE);
    expect(alices.namespaces.map((ns) => ns.labels)).toEqual([
      ["alice", tag, "1"],
      ["alice", tag, "2"],
    ]);
    expect((await store.listNamespaces({ maxDepth: 1, limit: 100 }, BOB_STORE)).namespaces.map((ns) => ns.labels)).toEqual([
      ["bob"],
    ]);
  });
});
