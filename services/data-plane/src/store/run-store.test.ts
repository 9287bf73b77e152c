import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createLogger, migrate, type Pool } from "@langopen/common";
import { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { createTestDatabase, until } from "@langopen/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { encodeSpec } from "../domain/run-spec.js";
import { MIGRATIONS_DIR } from "../migrations.js";
import { createRunLeaseStore, type RunLeaseStore } from "./run-lease-store.js";
import type { ClaimedRun } from "./run-rows.js";
import { createRunStore, type RunStore } from "./run-store.js";
import { createPool } from "./sql.js";

const logger = createLogger({ service: "test", level: "silent" });
const ASSISTANT = randomUUID();

let pool: Pool;
let drop: () => Promise<void>;
let dbUrl: string;
/** Transactions the store opened (each takes a client of its own from the pool). */
let transactions = 0;
/** Both sides of the run queue: the api-server's (create, cancel) and the worker's (claim, finish, reap). */
let store: RunStore & RunLeaseStore;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  dbUrl = database.url;
  drop = database.drop;
  await migrate(dbUrl, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: dbUrl, applicationName: "run-store-test" }, logger);
  await pool.query("INSERT INTO assistants (assistant_id, graph_id, version, name) VALUES ($1, 'echo', 1, 'echo')", [ASSISTANT]);
  const counting = {
    query: pool.query.bind(pool),
    connect: () => {
      transactions++;
      return pool.connect();
    },
  } as unknown as Pool;
  store = { ...createRunStore(counting), ...createRunLeaseStore(counting) };
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

/** Creates a run (stateless: on a temporary thread deleted at its end) and claims it as a worker would. */
async function startRun(options: { stateless: boolean; webhook?: string }): Promise<ClaimedRun> {
  const threadId = randomUUID();
  await store.create({
    runId: randomUUID(),
    threadId,
    createThread: true,
    deleteThreadOnEnd: options.stateless,
    assistantId: ASSISTANT,
    graphId: "echo",
    metadata: {},
    spec: encodeSpec(create(RunSpecSchema, { assistantId: ASSISTANT, webhook: options.webhook ?? "" })),
    multitask: "enqueue",
    afterSeconds: 0,
    requestId: null,
  });
  const [row] = await store.claim("test", 60_000);
  if (row?.thread_id !== threadId) throw new Error("claimed another run");
  return row;
}

const fenceOf = (row: ClaimedRun, epoch = row.epoch) => ({
  runId: row.run_id,
  threadId: row.thread_id,
  epoch,
  claimed: { spec: row.spec, deleteThreadOnEnd: row.delete_thread_on_end },
});
const success = { kind: "done", status: "success", resultJson: '{"n":1}', thread: { status: "idle" } } as const;

async function runRow(runId: string) {
  const { rows } = await pool.query<{ status: string; thread_id: string | null; result: unknown }>(
    "SELECT status, thread_id, result FROM runs WHERE run_id = $1",
    [runId],
  );
  return rows[0];
}
const threadExists = async (threadId: string) =>
  (await pool.query("SELECT 1 FROM threads WHERE thread_id = $1", [threadId])).rows.length > 0;
const deliveriesOf = async (runId: string) =>
  (
    await pool.query<{ payload: { thread_id: string | null } }>("SELECT payload FROM webhook_deliveries WHERE run_id = $1", [
      runId,
    ])
  ).rows;

/**
 * Holds the thread's lock in a transaction of its own while `act` starts, waits until `act`
 * waits for that lock, checks that the run's row is free meanwhile (a transaction that locks the
 * thread, then the run, would deadlock otherwise), then lets go and answers what `act` answered.
 */
async function lockedThreadFirst<T>(row: ClaimedRun, act: () => Promise<T>, what: string): Promise<T> {
  const holder = new pg.Client({ connectionString: dbUrl });
  await holder.connect();
  try {
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM threads WHERE thread_id = $1 FOR NO KEY UPDATE", [row.thread_id]);
    const acting = act();
    await until(async () => {
      const { rows } = await pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query LIKE '%FOR NO KEY UPDATE%' AND pid <> $1`,
        [(holder as unknown as { processID: number }).processID],
      );
      return rows.length > 0;
    }, what);
    await pool.query("SELECT 1 FROM runs WHERE run_id = $1 FOR UPDATE NOWAIT", [row.run_id]);
    await holder.query("COMMIT");
    return await acting;
  } finally {
    await holder.query("ROLLBACK").catch(() => {});
    await holder.end();
  }
}

/** Enqueues a run on an existing thread. */
/** A run queued on a thread (on a new one with `createThread`). */
const enqueue = (threadId: string, createThread = false) =>
  store.create({
    runId: randomUUID(),
    threadId,
    createThread,
    deleteThreadOnEnd: false,
    assistantId: ASSISTANT,
    graphId: "echo",
    metadata: {},
    spec: encodeSpec(create(RunSpecSchema, { assistantId: ASSISTANT })),
    multitask: "enqueue",
    afterSeconds: 0,
    requestId: null,
  });

describe("RunStore.finish", () => {
  it("ends a stateless run without a webhook in one statement: the run stays, its thread goes", async () => {
    const row = await startRun({ stateless: true });
    transactions = 0;
    expect(await store.finish(fenceOf(row), success)).toEqual({ fenced: false, deleteThread: true, webhookQueued: false });
    expect(transactions).toBe(0);
    expect(await runRow(row.run_id)).toEqual({ status: "success", thread_id: null, result: { n: 1 } });
    expect(await threadExists(row.thread_id)).toBe(false);
    expect(await deliveriesOf(row.run_id)).toEqual([]);
  });

  it("queues a stateless run's webhook with its end, and says so", async () => {
    const row = await startRun({ stateless: true, webhook: "http://hooks.example/done" });
    expect(await store.finish(fenceOf(row), success)).toEqual({ fenced: false, deleteThread: true, webhookQueued: true });
    expect(await runRow(row.run_id)).toMatchObject({ status: "success", thread_id: null });
    expect(await threadExists(row.thread_id)).toBe(false);
    expect(await deliveriesOf(row.run_id)).toEqual([{ payload: expect.objectContaining({ thread_id: null }) }]);
  });

  it("says whether a run that keeps its thread queued a webhook", async () => {
    const quiet = await startRun({ stateless: false });
    expect(await store.finish(fenceOf(quiet), success)).toMatchObject({
      fenced: false,
      deleteThread: false,
      webhookQueued: false,
    });
    const loud = await startRun({ stateless: false, webhook: "http://hooks.example/done" });
    expect(await store.finish(fenceOf(loud), success)).toMatchObject({ fenced: false, deleteThread: false, webhookQueued: true });
    expect(await runRow(loud.run_id)).toMatchObject({ status: "success", thread_id: loud.thread_id });
    expect(await deliveriesOf(loud.run_id)).toHaveLength(1);
  });

  it.each([true, false])("refuses an end from a stale epoch and changes nothing (stateless: %s)", async (stateless) => {
    const row = await startRun({ stateless });
    const stale = (BigInt(row.epoch) - 1n).toString();
    expect(await store.finish(fenceOf(row, stale), success)).toMatchObject({ fenced: true });
    expect(await runRow(row.run_id)).toMatchObject({ status: "running", thread_id: row.thread_id });
    expect(await threadExists(row.thread_id)).toBe(true);
    expect(await store.finish(fenceOf(row), success)).toMatchObject({ fenced: false, deleteThread: stateless });
  });

  it.each([true, false])("locks the thread before the run (stateless: %s)", async (stateless) => {
    const row = await startRun({ stateless });
    const ended = await lockedThreadFirst(
      row,
      () => store.finish(fenceOf(row), success),
      "the end to wait for the thread's lock",
    );
    expect(ended).toMatchObject({ fenced: false, deleteThread: stateless });
  });
});

describe("RunStore.reap", () => {
  it("locks the thread of a run it gives up before the run", async () => {
    const row = await startRun({ stateless: false });
    // Out of attempts, its lease run out: the reaper gives it up and settles its thread.
    await pool.query("UPDATE runs SET attempt = 3, lease_expires_at = now() - interval '1 second' WHERE run_id = $1", [
      row.run_id,
    ]);
    const reaped = await lockedThreadFirst(row, () => store.reap(3), "the reaper to wait for the thread's lock");
    expect(reaped.failed).toEqual([{ runId: row.run_id, threadId: row.thread_id }]);
    expect(await runRow(row.run_id)).toMatchObject({ status: "error" });
  });
});

describe("RunStore.create", () => {
  it("enqueues on an existing thread in one statement, behind its running run, and marks the thread busy", async () => {
    const running = await startRun({ stateless: false });
    await pool.query("UPDATE threads SET status = 'idle' WHERE thread_id = $1", [running.thread_id]);
    const before = transactions;
    const { run } = await enqueue(running.thread_id);
    expect(transactions).toBe(before);
    expect(run).toMatchObject({ thread_id: running.thread_id, status: "pending", multitask_strategy: "enqueue" });
    expect(await runRow(running.run_id)).toMatchObject({ status: "running" });
    const { rows } = await pool.query("SELECT status FROM threads WHERE thread_id = $1", [running.thread_id]);
    expect(rows[0]).toEqual({ status: "busy" });
  });

  it("answers NOT_FOUND for a missing or expired thread, and writes nothing", async () => {
    const missing = randomUUID();
    await expect(enqueue(missing)).rejects.toMatchObject({ code: Code.NotFound });
    const expired = (await startRun({ stateless: false })).thread_id;
    await pool.query(
      "UPDATE threads SET ttl_strategy = 'delete', expires_at = now() - interval '1 minute' WHERE thread_id = $1",
      [expired],
    );
    await expect(enqueue(expired)).rejects.toMatchObject({ code: Code.NotFound });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM runs WHERE thread_id = ANY($1::uuid[])", [
      [missing, expired],
    ]);
    expect(rows[0]).toEqual({ n: 1 });
  });
});

describe("RunStore.finish of a run that keeps its thread", () => {
  it("ends it in one statement: the thread takes the run's state, or stays busy while another run waits", async () => {
    const first = await startRun({ stateless: false });
    const before = transactions;
    const alone = await store.finish(fenceOf(first), {
      kind: "done",
      status: "success",
      resultJson: '{"n":1}',
      thread: { status: "interrupted", valuesJson: '{"n":1}', interruptsJson: '{"t":[]}' },
    });
    expect(transactions).toBe(before);
    expect(alone).toEqual({ fenced: false, deleteThread: false, threadBusy: false, webhookQueued: false });
    const thread = async (id: string) =>
      (await pool.query('SELECT status, "values", interrupts FROM threads WHERE thread_id = $1', [id])).rows[0];
    expect(await thread(first.thread_id)).toEqual({ status: "interrupted", values: { n: 1 }, interrupts: { t: [] } });

    // A second run on a thread with a third one queued behind it: the thread stays busy.
    const second = await startRun({ stateless: false });
    await enqueue(second.thread_id);
    expect(await store.finish(fenceOf(second), success)).toMatchObject({ fenced: false, threadBusy: true });
    expect(await thread(second.thread_id)).toMatchObject({ status: "busy" });
    // A stale epoch changes nothing.
    expect(await store.finish(fenceOf(second, "0"), success)).toMatchObject({ fenced: true });
  });
});

describe("RunStore.countActive", () => {
  it("counts as runnable only what a worker could claim now, not runs queued behind a busy thread", async () => {
    const before = await store.countActive(1_000_000);
    // A busy thread (its first run running, as a worker's claim leaves it) with two runs queued behind it.
    const busyThread = randomUUID();
    const { run: first } = await enqueue(busyThread, true);
    await pool.query("UPDATE runs SET status = 'running' WHERE run_id = $1", [first.run_id]);
    await enqueue(busyThread);
    await enqueue(busyThread);
    // An idle thread with two runs: the first could start now, the second waits behind it.
    const idleThread = randomUUID();
    await enqueue(idleThread, true);
    await enqueue(idleThread);
    const after = await store.countActive(1_000_000);
    expect(after.running - before.running).toBe(1);
    expect(after.pending - before.pending).toBe(4);
    expect(after.runnable - before.runnable).toBe(1);
  });
});
