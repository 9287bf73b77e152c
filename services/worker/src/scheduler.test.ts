import { create, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { createLogger, migrate, type Pool } from "@langopen/common";
import { type CronStore, createCronStore, createPool, decodeSpec, MIGRATIONS_DIR } from "@langopen/data-plane";
import { RunSchema, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import type { CreateRunRequest, RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { createTestDatabase } from "@langopen/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { firingRequestId, type Scheduler, startScheduler } from "./scheduler.js";

const logger = createLogger({ service: "test", level: "silent" });
const ASSISTANT = "00000000-0000-4000-8000-000000000001";

let pools: Pool[] = [];
let stores: CronStore[] = [];
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createTestDatabase(inject("databaseUrl"));
  drop = database.drop;
  await migrate(database.url, MIGRATIONS_DIR, logger);
  // Two "workers": each its own pool, as two processes would have.
  pools = [0, 1].map(() => createPool({ connectionString: database.url, applicationName: "scheduler-test" }, logger));
  stores = pools.map(createCronStore);
  await pools[0]?.query(`INSERT INTO assistants (assistant_id, graph_id, version, name) VALUES ($1, 'echo', 1, 'echo')`, [
    ASSISTANT,
  ]);
}, 60_000);

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await drop?.();
});

beforeEach(async () => {
  await pools[0]?.query("DELETE FROM crons");
});

/** A RunService stand-in: idempotent by request id like the real one, slow enough for races. */
function fakeRuns(options: { delayMs?: number; fail?: (req: CreateRunRequest, call: number) => ConnectError | undefined } = {}) {
  const calls: CreateRunRequest[] = [];
  const callers: number[] = [];
  const runs = new Map<string, string>();
  const clientFor = (caller: number) =>
    ({
      createRun: (req: CreateRunRequest) => {
        callers.push(caller);
        return createRun(req);
      },
    }) as unknown as Client<typeof RunService>;
  const createRun = async (req: CreateRunRequest) => {
    calls.push(req);
    await new Promise((r) => setTimeout(r, options.delayMs ?? 0));
    const failure = options.fail?.(req, calls.filter((c) => c.requestId === req.requestId).length);
    if (failure) throw failure;
    let runId = runs.get(req.requestId);
    if (!runId) {
      runId = crypto.randomUUID();
      runs.set(req.requestId, runId);
    }
    return { run: create(RunSchema, { runId, threadId: req.threadId || crypto.randomUUID() }) };
  };
  return { clientFor, calls, callers, runs };
}

async function addCron(store: CronStore, overrides: { endTime?: Date | null } = {}): Promise<string> {
  const cronId = crypto.randomUUID();
  await store.create({
    cronId,
    assistantId: ASSISTANT,
    threadId: null,
    schedule: "0 * * * *",
    timezone: null,
    endTime: overrides.endTime ?? null,
    enabled: true,
    payload: toBinary(RunSpecSchema, create(RunSpecSchema, { assistantId: ASSISTANT, webhook: "https://example.com/h" })),
    onRunCompleted: "keep",
    multitask: "enqueue",
    metadata: { owner: "test" },
    userId: null,
    creator: null,
    nextRunDate: new Date(Date.now() + 3600_000),
  });
  return cronId;
}

async function makeDue(cronId: string, agoMs: number): Promise<void> {
  await pools[0]?.query("UPDATE crons SET next_run_date = now() - make_interval(secs => $2::float8 / 1000) WHERE cron_id = $1", [
    cronId,
    agoMs,
  ]);
}

async function firingsOf(cronId: string) {
  const { rows } = await (pools[0] as Pool).query("SELECT * FROM cron_firings WHERE cron_id = $1", [cronId]);
  return rows as Array<{ scheduled_for: Date; run_id: string | null; error: { code: string } | null }>;
}

async function nextRunDate(cronId: string): Promise<Date | null> {
  const { rows } = await (pools[0] as Pool).query("SELECT next_run_date FROM crons WHERE cron_id = $1", [cronId]);
  return rows[0]?.next_run_date ?? null;
}

/**
 * Runs fn with one scheduler per store (each its own pool, as separate workers have). Their own
 * loops poll once at start, while nothing is due, then sleep for an hour: the test polls them.
 */
async function withSchedulers(fake: ReturnType<typeof fakeRuns>, fn: (s: Scheduler[]) => Promise<void>): Promise<void> {
  const started = stores.map((crons, i) => startScheduler({ crons, runs: fake.clientFor(i), logger, pollMs: 3_600_000 }));
  await new Promise((r) => setTimeout(r, 100));
  try {
    await fn(started);
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

describe("cron scheduler", () => {
  it("fires every due time exactly once with two schedulers polling at the same time", async () => {
    const fake = fakeRuns({ delayMs: 40 });
    await withSchedulers(fake, async ([a, b]) => {
      const ids = await Promise.all(Array.from({ length: 12 }, () => addCron(stores[0] as CronStore)));
      for (const id of ids) await makeDue(id, 1_000);
      await Promise.all([a?.pollOnce(), b?.pollOnce(), a?.pollOnce(), b?.pollOnce()]);
      for (const id of ids) {
        const fired = await firingsOf(id);
        expect(fired).toHaveLength(1);
        expect(fired[0]?.run_id).toBe(fake.runs.get(firingRequestId(id, fired[0]?.scheduled_for as Date)));
        expect((await nextRunDate(id))?.getTime()).toBeGreaterThan(Date.now());
      }
      // One create per due time, each with its own request id.
      expect(fake.calls).toHaveLength(ids.length);
      expect(new Set(fake.calls.map((c) => c.requestId)).size).toBe(ids.length);
      const first = fake.calls[0] as CreateRunRequest;
      expect(first.requestId).toMatch(/^cron:[0-9a-f-]{36}:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(decodeSpec(toBinary(RunSpecSchema, first.spec ?? create(RunSpecSchema))).webhook).toBe("https://example.com/h");
      expect(first.spec?.metadata).toMatchObject({ owner: "test" });
      // Both schedulers did part of the work: they skipped each other's locked crons, not waited.
      expect(new Set(fake.callers)).toEqual(new Set([0, 1]));
    });
  });

  it("fires a cron that missed many due times once, and moves it past now", async () => {
    const fake = fakeRuns();
    await withSchedulers(fake, async ([a, b]) => {
      const id = await addCron(stores[0] as CronStore);
      await makeDue(id, 15 * 60_000);
      await a?.pollOnce();
      await b?.pollOnce();
      expect(await firingsOf(id)).toHaveLength(1);
      expect(fake.calls).toHaveLength(1);
      const next = (await nextRunDate(id))?.getTime() ?? 0;
      expect(next).toBeGreaterThan(Date.now());
      expect(next).toBeLessThanOrEqual(Date.now() + 3_600_000);
    });
  });

  it("takes a concurrent duplicate (ALREADY_EXISTS) as the run made by the other create", async () => {
    const fake = fakeRuns({ fail: (_req, call) => (call === 1 ? new ConnectError("dup", Code.AlreadyExists) : undefined) });
    await withSchedulers(fake, async ([a]) => {
      const id = await addCron(stores[0] as CronStore);
      await makeDue(id, 1_000);
      await a?.pollOnce();
      const [firing] = await firingsOf(id);
      expect(firing?.run_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(firing?.error).toBeNull();
      expect(fake.calls).toHaveLength(2);
      expect(fake.calls[0]?.requestId).toBe(fake.calls[1]?.requestId);
    });
  });

  it("records a refused create and moves on, but keeps the due time when the api-server is unavailable", async () => {
    const refused = fakeRuns({ fail: () => new ConnectError("Thread is busy", Code.FailedPrecondition) });
    await withSchedulers(refused, async ([a]) => {
      const id = await addCron(stores[0] as CronStore);
      await makeDue(id, 1_000);
      await a?.pollOnce();
      const [firing] = await firingsOf(id);
      expect(firing?.run_id).toBeNull();
      expect(firing?.error).toMatchObject({ code: "FailedPrecondition" });
      expect((await nextRunDate(id))?.getTime()).toBeGreaterThan(Date.now());
    });

    const down = fakeRuns({ fail: () => new ConnectError("no", Code.Unavailable) });
    await withSchedulers(down, async ([b]) => {
      const other = await addCron(stores[0] as CronStore);
      await makeDue(other, 1_000);
      await expect(b?.pollOnce()).rejects.toThrow();
      expect(await firingsOf(other)).toHaveLength(0);
      expect((await nextRunDate(other))?.getTime()).toBeLessThan(Date.now());
    });
  });

  it("stops a cron past its end time without firing it", async () => {
    const fake = fakeRuns();
    await withSchedulers(fake, async ([a]) => {
      const id = await addCron(stores[0] as CronStore, { endTime: new Date(Date.now() - 60_000) });
      await makeDue(id, 120_000);
      await a?.pollOnce();
      expect(fake.calls).toHaveLength(0);
      const { rows } = await (pools[0] as Pool).query("SELECT enabled, next_run_date FROM crons WHERE cron_id = $1", [id]);
      expect(rows[0]).toEqual({ enabled: false, next_run_date: null });
    });
  });
});
