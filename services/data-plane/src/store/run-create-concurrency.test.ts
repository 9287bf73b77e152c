import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, migrate, type Pool } from "@langopen/common";
import { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { encodeSpec } from "../domain/run-spec.js";
import { MIGRATIONS_DIR } from "../migrations.js";
import { createRunLeaseStore, type RunLeaseStore } from "./run-lease-store.js";
import type { MultitaskName } from "./run-rows.js";
import { createRunStore, type NewRun, type RunStore } from "./run-store.js";
import { createPool } from "./sql.js";

const logger = createLogger({ service: "test", level: "silent" });
const ASSISTANT = randomUUID();
const SPEC = encodeSpec(create(RunSpecSchema, { assistantId: ASSISTANT }));

let pool: Pool;
let drop: () => Promise<void>;
let store: RunStore & RunLeaseStore;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrate(database.url, MIGRATIONS_DIR, logger);
  pool = createPool({ connectionString: database.url, applicationName: "run-create-concurrency-test", max: 24 }, logger);
  await pool.query("INSERT INTO assistants (assistant_id, graph_id, version, name) VALUES ($1, 'echo', 1, 'echo')", [ASSISTANT]);
  store = { ...createRunStore(pool), ...createRunLeaseStore(pool) };
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await drop?.();
});

const newRun = (threadId: string, multitask: MultitaskName, createThread: boolean, requestId: string | null = null): NewRun => ({
  runId: randomUUID(),
  threadId,
  createThread,
  deleteThreadOnEnd: false,
  assistantId: ASSISTANT,
  graphId: "echo",
  metadata: {},
  spec: SPEC,
  multitask,
  afterSeconds: 0,
  requestId,
});

/** Runs `tasks` with at most `width` at once; answers each one's outcome. */
async function inParallel<T>(tasks: Array<() => Promise<T>>, width: number): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        const task = tasks[i] as () => Promise<T>;
        out[i] = await task().then(
          (value) => ({ status: "fulfilled", value }) as const,
          (reason: unknown) => ({ status: "rejected", reason }) as const,
        );
      }
    }),
  );
  return out;
}

describe("concurrent run creation on one thread", () => {
  it("never deadlocks or fails, whatever the mix of strategies, while a worker claims and ends runs", async () => {
    const threadId = randomUUID();
    await pool.query("INSERT INTO threads (thread_id) VALUES ($1)", [threadId]);
    const strategies: MultitaskName[] = ["enqueue", "enqueue", "enqueue", "reject", "interrupt", "rollback"];
    const creates = Array.from({ length: 600 }, (_, i) => {
      const multitask = strategies[i % strategies.length] as MultitaskName;
      const kind = i % 5;
      if (kind === 3) {
        // if_not_exists=create on a thread that exists.
        return () => store.create(newRun(threadId, multitask, true));
      }
      if (kind === 4) {
        return () => store.createFromThread(threadId, { createThread: i % 2 === 0 }, () => newRun(threadId, multitask, false));
      }
      if (kind === 2) return () => store.create(newRun(threadId, multitask, false, randomUUID()));
      return () => store.create(newRun(threadId, multitask, false));
    });
    // A worker at the same time: claims the thread's runs, ends them, and cancels some that wait.
    let creating = true;
    const worker = (async () => {
      const deadline = Date.now() + 120_000;
      while (creating && Date.now() < deadline) {
        const claimed = await store.claim("worker", 60_000, 4);
        for (const run of claimed) {
          await store.finish(
            { runId: run.run_id, threadId: run.thread_id, epoch: run.epoch },
            { kind: "done", status: "success", resultJson: "{}", thread: { status: "idle", valuesJson: "{}" } },
          );
        }
        const waiting = await store.activeRuns({ threadId, statuses: ["pending"] });
        const victim = waiting.at(-1);
        if (victim) await store.cancel(victim.run_id, threadId, "interrupt");
        if (claimed.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const results = await inParallel(creates, 16);
    creating = false;
    await worker;
    const unexpected = results.flatMap((r) => {
      if (r.status === "fulfilled") return [];
      const err = r.reason;
      // A reject strategy on a busy thread is the one refusal expected.
      if (err instanceof ConnectError && err.code === Code.FailedPrecondition) return [];
      return [err instanceof ConnectError ? `${Code[err.code]}: ${err.message}` : String(err)];
    });
    expect(unexpected).toEqual([]);
    expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThan(300);
  }, 180_000);

  it("never lets more runs wait on a thread than its cap, however many creates race for the last place", async () => {
    const cap = 7;
    const capped = createRunStore(pool, { maxQueuedPerThread: cap });
    const threadId = randomUUID();
    await pool.query("INSERT INTO threads (thread_id) VALUES ($1)", [threadId]);
    // if_not_exists=create and request ids take the transaction's other ways in; all enqueue.
    const creates = Array.from({ length: 120 }, (_, i) => () => {
      if (i % 3 === 1) return capped.create(newRun(threadId, "enqueue", true));
      if (i % 3 === 2) return capped.create(newRun(threadId, "enqueue", false, randomUUID()));
      return capped.create(newRun(threadId, "enqueue", false));
    });
    const results = await inParallel(creates, 16);
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(cap);
    expect(refused.every((err) => err instanceof ConnectError && err.code === Code.ResourceExhausted)).toBe(true);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM runs WHERE thread_id = $1 AND status = 'pending'",
      [threadId],
    );
    expect(rows[0]?.n).toBe(cap);
  }, 120_000);
});
