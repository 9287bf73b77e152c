import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, errorInfo, jsonBytes, parseJsonBytes, Reason } from "@langopen/common";
import { createLocalSignals, createRunStore, defaultAssistantId, type RunStore } from "@langopen/data-plane";
import { RunSpecSchema, RunStatus } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CancelAction,
  type CreateOrResumeRunRequest,
  CreateOrResumeRunRequestSchema,
  IfNotExists,
  InterruptedWhen,
  RunService,
} from "@langopen/gen/langopen/data/v1/run_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ApiServer, startApiServer } from "../compose.js";

/*
 * CreateOrResumeRun and CancelRun on real Postgres, through the api-server's gRPC port: the
 * decisions the gateway used to take from reads of its own (does the thread wait on an
 * interrupt? whose assistant? has the run ended?) are taken under the thread's lock, so
 * concurrent callers cannot all act on the same stale read.
 */

const AGENT = defaultAssistantId("agent");
const OTHER = defaultAssistantId("other");
const INTERRUPT_ID = "a".repeat(32);

let server: ApiServer;
let drop: () => Promise<void>;
let pool: pg.Pool;
/** The data plane's own store, to put threads in the state a run would leave them in (no worker runs here). */
let store: RunStore;
let runs: ReturnType<typeof createClient<typeof RunService>>;
let threads: ReturnType<typeof createClient<typeof ThreadService>>;

beforeAll(async () => {
  const db = await createTestDatabase(inject("databaseUrl"));
  drop = db.drop;
  server = await startApiServer(
    { databaseUrl: db.url, host: "127.0.0.1", port: 0, graphIds: ["agent", "other"], signals: createLocalSignals() },
    createLogger({ service: "test", level: "silent" }),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  store = createRunStore(pool);
  const transport = createGrpcTransport({ baseUrl: server.rpc.url });
  runs = createClient(RunService, transport);
  threads = createClient(ThreadService, transport);
  // Warm the api-server's pool, so that concurrent calls below really overlap in Postgres.
  await Promise.all(Array.from({ length: 8 }, () => refusal(threads.getThread({ threadId: randomUUID() }))));
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop(500);
  await drop?.();
});

/** A thread whose last run stopped at an interrupt: as a worker leaves it (status interrupted, the interrupt recorded). */
async function interruptedThread(options: { metadata?: Record<string, string> } = {}): Promise<string> {
  const threadId = randomUUID();
  await threads.createThread({ threadId, metadata: options.metadata ?? {} });
  await store.setThreadState(threadId, {
    status: "interrupted",
    valuesJson: "{}",
    interruptsJson: JSON.stringify({ task: [{ id: INTERRUPT_ID, value: "Your name?" }] }),
  });
  return threadId;
}

/** What a reply to the interrupt asks for: resume with the answer, or start afresh with it as input. */
function reply(
  threadId: string,
  fields: Partial<Pick<CreateOrResumeRunRequest, "resumeOnly" | "interruptedWhen" | "interruptIds">> = {},
  assistantId = "agent",
) {
  return create(CreateOrResumeRunRequestSchema, {
    run: {
      threadId,
      spec: create(RunSpecSchema, { assistantId, inputJson: jsonBytes({ messages: ["Ada"] }) }),
      ifNotExists: IfNotExists.CREATE,
    },
    resumeCommandJson: jsonBytes({ resume: "Ada" }),
    interruptedWhen: InterruptedWhen.STATUS,
    ...fields,
  });
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );

async function runsOn(threadId: string) {
  const { rows } = await pool.query<{ count: string }>("SELECT count(*) FROM runs WHERE thread_id = $1", [threadId]);
  return Number(rows[0]?.count);
}

describe("CreateOrResumeRun", () => {
  it("resumes an interrupt once when several replies come at once: the others start afresh", async () => {
    const threadId = await interruptedThread();
    const answers = await Promise.all(Array.from({ length: 8 }, () => runs.createOrResumeRun(reply(threadId))));
    expect(answers.filter((a) => a.resumed)).toHaveLength(1);
    const resumed = answers.find((a) => a.resumed)?.run;
    expect(parseJsonBytes(resumed?.kwargsJson ?? new Uint8Array(), {})).toMatchObject({
      input: null,
      command: { resume: "Ada" },
    });
    for (const fresh of answers.filter((a) => !a.resumed)) {
      expect(parseJsonBytes(fresh.run?.kwargsJson ?? new Uint8Array(), {})).toMatchObject({
        input: { messages: ["Ada"] },
        command: null,
      });
    }
    expect(await runsOn(threadId)).toBe(8);
  });

  it("lets exactly one of several resume-only replies through, refuses the others and writes nothing for them", async () => {
    const threadId = await interruptedThread();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => refusal(runs.createOrResumeRun(reply(threadId, { resumeOnly: true })))),
    );
    const refused = outcomes.filter((o) => o !== undefined);
    expect(refused).toHaveLength(7);
    for (const err of refused) {
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(errorInfo(err)?.reason).toBe(Reason.ThreadNotInterrupted);
    }
    expect(await runsOn(threadId)).toBe(1);
  });

  it("counts recorded interrupts as waiting with INTERRUPTED_WHEN_PENDING, also while a later run waits", async () => {
    const threadId = await interruptedThread();
    const pending = (resumeOnly: boolean) => reply(threadId, { interruptedWhen: InterruptedWhen.PENDING, resumeOnly });
    expect((await runs.createOrResumeRun(pending(false))).resumed).toBe(true);
    // The thread is busy now, with its interrupt still recorded: the status policy starts afresh.
    expect((await runs.createOrResumeRun(reply(threadId))).resumed).toBe(false);
    expect((await runs.createOrResumeRun(pending(true))).resumed).toBe(true);
  });

  it("starts afresh on a new thread, which it creates, and refuses a resume-only reply there without creating it", async () => {
    const fresh = randomUUID();
    const answer = await runs.createOrResumeRun(reply(fresh));
    expect(answer.resumed).toBe(false);
    expect(answer.run?.threadId).toBe(fresh);
    expect((await threads.getThread({ threadId: fresh })).thread?.metadata).toMatchObject({ graph_id: "agent" });

    const missing = randomUUID();
    const err = await refusal(runs.createOrResumeRun(reply(missing, { resumeOnly: true })));
    expect(err?.code).toBe(Code.NotFound);
    expect(errorInfo(err as ConnectError)?.metadata.kind).toBe("Thread");
    expect((await refusal(threads.getThread({ threadId: missing })))?.code).toBe(Code.NotFound);
  });

  it("checks the answered interrupt ids against those the thread waits on", async () => {
    const threadId = await interruptedThread();
    const err = await refusal(runs.createOrResumeRun(reply(threadId, { resumeOnly: true, interruptIds: ["b".repeat(32)] })));
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(err as ConnectError)).toMatchObject({
      reason: Reason.InterruptNotPending,
      metadata: { interrupt_id: "b".repeat(32) },
    });
    expect(await runsOn(threadId)).toBe(0);
    const ok = await runs.createOrResumeRun(reply(threadId, { resumeOnly: true, interruptIds: [INTERRUPT_ID] }));
    expect(ok.resumed).toBe(true);
  });

  it("runs the thread's assistant when none is given: its latest run's, else its metadata's", async () => {
    const byMetadata = await interruptedThread({ metadata: { graph_id: "other" } });
    const first = await runs.createOrResumeRun(reply(byMetadata, { resumeOnly: true }, ""));
    expect(first.run?.assistantId).toBe(OTHER);

    // A run of `agent`, then metadata naming `other`: the latest run's assistant wins.
    const byRun = await interruptedThread();
    await runs.createRun({ threadId: byRun, spec: { assistantId: "agent" } });
    await threads.updateThread({ threadId: byRun, metadata: { graph_id: "other", assistant_id: OTHER } });
    await store.setThreadState(byRun, {
      status: "interrupted",
      valuesJson: "{}",
      interruptsJson: JSON.stringify({ task: [{ id: INTERRUPT_ID }] }),
    });
    const second = await runs.createOrResumeRun(reply(byRun, { resumeOnly: true, interruptedWhen: InterruptedWhen.PENDING }, ""));
    expect(second.run?.assistantId).toBe(AGENT);

    const none = await interruptedThread();
    const err = await refusal(runs.createOrResumeRun(reply(none, { resumeOnly: true }, "")));
    expect(errorInfo(err as ConnectError)?.reason).toBe(Reason.ThreadAssistantUnknown);
  });
});

describe("CancelRun", () => {
  it("cancels only a run of the given assistant, and says when the run had already ended", async () => {
    const threadId = randomUUID();
    const created = await runs.createRun({ threadId, spec: { assistantId: "agent" }, ifNotExists: IfNotExists.CREATE });
    const runId = created.run?.runId ?? "";
    const cancel = (assistantId: string) =>
      runs.cancelRun({ threadId, runId, wait: true, action: CancelAction.INTERRUPT, assistantId });

    expect((await refusal(cancel(OTHER)))?.code).toBe(Code.NotFound);
    const first = await cancel(AGENT);
    expect(first.alreadyEnded).toBe(false);
    expect(first.run?.status).toBe(RunStatus.INTERRUPTED);
    const again = await cancel("agent");
    expect(again.alreadyEnded).toBe(true);
    expect(again.run?.status).toBe(RunStatus.INTERRUPTED);
  });
});
