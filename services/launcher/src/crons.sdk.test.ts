import { Client } from "@langchain/langgraph-sdk";
import { createLogger, createRedis, type Pool } from "@langopen/common";
import { createPool, createRedisSignals, defaultAssistantId } from "@langopen/data-plane";
import { until } from "@langopen/testkit";
import { startWorkerService, type WorkerService } from "@langopen/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";
import { startTunedStack } from "./test-fixtures/tuned-stack.js";

let stack: TestStack;
let client: Client;
let db: Pool;
let redis: ReturnType<typeof createRedis>;
let second: WorkerService;

beforeAll(async () => {
  stack = await startTunedStack(TEST_GRAPHS, { cronPollMs: 50 });
  client = new Client({ apiUrl: stack.url });
  db = createPool(
    { connectionString: stack.databaseUrl, applicationName: "crons-test" },
    createLogger({ service: "test", level: "error" }),
  );
  // A second worker on the same database and Redis: its scheduler races the stack's for every due cron.
  const logger = createLogger({ service: "second-worker", level: "error" });
  redis = createRedis(inject("redisUrl"), logger, "second-worker");
  second = startWorkerService(
    {
      databaseUrl: stack.databaseUrl,
      signals: createRedisSignals({ redis, logger }),
      runtimeUrls: [stack.runtimeUrl],
      apiServerUrl: stack.rpcUrl,
      cronPollMs: 50,
      internalSecret: stack.internalSecret,
    },
    logger,
  );
}, 90_000);

afterAll(async () => {
  await second?.stop(1_000);
  redis?.disconnect();
  await db?.end();
  await stack?.stop();
});

const hi = (text: string) => ({ messages: [{ role: "human", content: text }] });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw HTTP, for what the SDK has no method for (GET /runs/crons/{id}) and for malformed bodies. */
async function http(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
}

/** Makes a cron due `agoMs` ago, straight in Postgres (no test waits for a real minute). */
async function makeDue(cronId: string, agoMs = 1_000): Promise<void> {
  await db.query("UPDATE crons SET next_run_date = now() - make_interval(secs => $2::float8 / 1000) WHERE cron_id = $1", [
    cronId,
    agoMs,
  ]);
}

interface Firing {
  scheduled_for: Date;
  run_id: string | null;
  thread_id: string | null;
  error: unknown;
}

async function firings(cronId: string): Promise<Firing[]> {
  const { rows } = await db.query<Firing>("SELECT scheduled_for, run_id, thread_id, error FROM cron_firings WHERE cron_id = $1", [
    cronId,
  ]);
  return rows;
}

async function cronRow(cronId: string): Promise<{ next_run_date: Date | null; enabled: boolean }> {
  const { rows } = await db.query("SELECT next_run_date, enabled FROM crons WHERE cron_id = $1", [cronId]);
  return rows[0];
}

const cronCount = async () => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM crons")).rows[0]?.n);

describe("crons through the SDK", () => {
  it("creates, searches, counts, updates and deletes thread and stateless crons", async () => {
    const thread = await client.threads.create();
    const before = Date.now();
    const threadCron = await client.crons.createForThread(thread.thread_id, "echo", {
      schedule: "*/5 * * * *",
      input: hi("tick"),
      metadata: { team: "crud", kind: "thread" },
      multitaskStrategy: "reject",
    });
    expect(threadCron).toMatchObject({
      thread_id: thread.thread_id,
      assistant_id: defaultAssistantId("echo"),
      schedule: "*/5 * * * *",
      enabled: true,
      end_time: null,
      user_id: null,
      metadata: { team: "crud", kind: "thread" },
      payload: { assistant_id: defaultAssistantId("echo"), input: hi("tick"), metadata: { team: "crud", kind: "thread" } },
    });
    // timezone and on_run_completed only appear when selected.
    expect(threadCron).not.toHaveProperty("timezone");
    expect(threadCron).not.toHaveProperty("on_run_completed");
    const next = Date.parse(threadCron.next_run_date);
    expect(next).toBeGreaterThan(before);
    expect(next).toBeLessThanOrEqual(before + 5 * 60_000);
    expect(new Date(next).getUTCMinutes() % 5).toBe(0);

    const endTime = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
    const stateless = await client.crons.create("echo", {
      schedule: "30 9 * * 1-5",
      timezone: "America/New_York",
      endTime,
      input: hi("weekday"),
      metadata: { team: "crud", kind: "stateless" },
      onRunCompleted: "keep",
      webhook: "https://example.com/hook",
    });
    expect(stateless.thread_id).toBeNull();
    expect(Date.parse(stateless.end_time as string)).toBe(Date.parse(endTime));
    expect(stateless.payload).toMatchObject({ webhook: "https://example.com/hook" });
    // 9:30 in New York is 13:30 or 14:30 UTC.
    const nextStateless = new Date(stateless.next_run_date);
    expect(nextStateless.getUTCMinutes()).toBe(30);
    expect([13, 14]).toContain(nextStateless.getUTCHours());

    const byThread = await client.crons.search({ threadId: thread.thread_id });
    expect(byThread.map((c) => c.cron_id)).toEqual([threadCron.cron_id]);
    const byMeta = await client.crons.search({ metadata: { team: "crud" }, sortBy: "created_at", sortOrder: "asc" });
    expect(byMeta.map((c) => c.cron_id)).toEqual([threadCron.cron_id, stateless.cron_id]);
    const byGraph = await client.crons.search({ assistantId: "echo", metadata: { team: "crud" } });
    expect(byGraph).toHaveLength(2);
    const selected = await client.crons.search({
      metadata: { kind: "stateless" },
      select: ["cron_id", "timezone", "on_run_completed"],
    });
    expect(selected).toEqual([{ cron_id: stateless.cron_id, timezone: "America/New_York", on_run_completed: "keep" }]);
    const page = await client.crons.search({ metadata: { team: "crud" }, limit: 1, offset: 1, sortOrder: "desc" });
    expect(page.map((c) => c.cron_id)).toEqual([threadCron.cron_id]);
    expect(await client.crons.search({ assistantId: "no-such-graph" })).toEqual([]);
    expect(await client.crons.count({ metadata: { team: "crud" } })).toBe(2);
    expect(await client.crons.count({ threadId: thread.thread_id })).toBe(1);

    const updated = await client.crons.update(stateless.cron_id, {
      schedule: "0 * * * *",
      timezone: "UTC",
      endTime: null,
      metadata: { extra: 1 },
      input: hi("changed"),
      enabled: false,
    });
    expect(updated).toMatchObject({
      schedule: "0 * * * *",
      end_time: null,
      enabled: false,
      metadata: { team: "crud", kind: "stateless", extra: 1 },
      payload: { input: hi("changed"), webhook: "https://example.com/hook" },
    });
    expect(new Date(updated.next_run_date as string).getUTCMinutes()).toBe(0);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(stateless.updated_at));
    // Omitting end_time keeps it; the payload keeps what the patch does not name.
    const again = await client.crons.update(stateless.cron_id, { endTime, streamSubgraphs: true });
    expect(Date.parse(again.end_time as string)).toBe(Date.parse(endTime));
    expect(again.payload).toMatchObject({ input: hi("changed"), stream_subgraphs: true });
    const fetched = await http("GET", `/runs/crons/${stateless.cron_id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.json).toMatchObject({ cron_id: stateless.cron_id, enabled: false, schedule: "0 * * * *" });
    expect(await client.crons.search({ metadata: { team: "crud" }, enabled: false })).toHaveLength(1);

    await client.crons.delete(stateless.cron_id);
    expect((await http("GET", `/runs/crons/${stateless.cron_id}`)).status).toBe(404);
    expect(await statusOf(client.crons.delete(stateless.cron_id))).toBe(404);
    expect(await client.crons.count({ metadata: { team: "crud" } })).toBe(1);

    // A thread's crons go with it.
    await client.threads.delete(thread.thread_id);
    expect((await http("GET", `/runs/crons/${threadCron.cron_id}`)).status).toBe(404);
  });

  it("fires a due thread cron exactly once with two workers racing, then schedules the next time", async () => {
    const threads = await Promise.all([1, 2, 3, 4].map(() => client.threads.create()));
    // Hourly: the next due time is far enough away that the checks below cannot race it.
    const crons = await Promise.all(
      threads.map((t, i) => client.crons.createForThread(t.thread_id, "echo", { schedule: "0 * * * *", input: hi(`race ${i}`) })),
    );
    await Promise.all(crons.map((c) => makeDue(c.cron_id)));
    for (const cron of crons)
      await until(async () => ((await firings(cron.cron_id)).length > 0 ? true : undefined), "the firing");
    // Many more polls of both schedulers.
    await sleep(1_000);
    for (const [i, cron] of crons.entries()) {
      const fired = await firings(cron.cron_id);
      expect(fired).toHaveLength(1);
      expect(fired[0]?.error).toBeNull();
      const thread = threads[i]?.thread_id as string;
      const runs = await client.runs.list(thread);
      expect(runs).toHaveLength(1);
      expect(runs[0]?.run_id).toBe(fired[0]?.run_id);
      expect(runs[0]?.metadata).toMatchObject({ cron_id: cron.cron_id });
      await client.runs.join(thread, runs[0]?.run_id as string);
      const state = await client.threads.getState<{ messages: Array<{ content: string }> }>(thread);
      expect(state.values.messages.at(-1)?.content).toBe(`You said: race ${i}`);
      const row = await cronRow(cron.cron_id);
      expect(row.next_run_date?.getTime()).toBeGreaterThan(Date.now());
      expect(row.next_run_date?.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);
    }
  });

  it("fires once after a downtime that missed many due times, and lands next_run_date in the future", async () => {
    const thread = await client.threads.create();
    // Hourly, ten hours overdue: ten missed due times, and the next one is far enough away that
    // the check below cannot race a new due time.
    const cron = await client.crons.createForThread(thread.thread_id, "echo", { schedule: "0 * * * *", input: hi("late") });
    await makeDue(cron.cron_id, 10 * 3_600_000);
    await until(async () => ((await firings(cron.cron_id)).length > 0 ? true : undefined), "the firing");
    await sleep(800);
    const fired = await firings(cron.cron_id);
    expect(fired).toHaveLength(1);
    expect(await client.runs.list(thread.thread_id)).toHaveLength(1);
    const row = await cronRow(cron.cron_id);
    expect(row.next_run_date?.getTime()).toBeGreaterThan(Date.now());
    expect(row.next_run_date?.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(row.enabled).toBe(true);
  });

  it("stops a cron after its end time", async () => {
    const thread = await client.threads.create();
    const cron = await client.crons.createForThread(thread.thread_id, "echo", {
      schedule: "0 * * * *",
      input: hi("never"),
      endTime: new Date(Date.now() + 3600_000).toISOString(),
    });
    await db.query(
      "UPDATE crons SET end_time = now() - interval '1 minute', next_run_date = now() - interval '2 minutes' WHERE cron_id = $1",
      [cron.cron_id],
    );
    await until(async () => ((await cronRow(cron.cron_id)).enabled ? undefined : true), "the cron to stop");
    await sleep(500);
    expect(await firings(cron.cron_id)).toHaveLength(0);
    expect(await client.runs.list(thread.thread_id)).toHaveLength(0);
    const shown = await http("GET", `/runs/crons/${cron.cron_id}`);
    expect(shown.json).toMatchObject({ enabled: false, next_run_date: null });

    // An end time set in the past through the API stops it as well.
    const other = await client.crons.createForThread(thread.thread_id, "echo", { schedule: "0 * * * *", input: hi("never") });
    const ended = await client.crons.update(other.cron_id, { endTime: new Date(Date.now() - 60_000).toISOString() });
    expect(ended.next_run_date).toBeNull();
    await makeDue(other.cron_id);
    await sleep(500);
    expect(await firings(other.cron_id)).toHaveLength(0);
  });

  it("runs a stateless cron on a new thread each time and deletes it afterwards (or keeps it)", async () => {
    const cron = await client.crons.create("echo", { schedule: "0 * * * *", input: hi("stateless") });
    expect((await http("GET", `/runs/crons/${cron.cron_id}`)).json).toMatchObject({ thread_id: null });
    await makeDue(cron.cron_id);
    const firing = await until(async () => (await firings(cron.cron_id)).find((f) => f.run_id), "the firing");
    expect(firing.thread_id).toMatch(/^[0-9a-f-]{36}$/);
    const ended = await until(async () => {
      const { rows } = await db.query("SELECT status, thread_id FROM runs WHERE run_id = $1", [firing.run_id]);
      return rows[0]?.status === "success" && rows[0]?.thread_id === null ? rows[0] : undefined;
    }, "the run to end and drop its thread");
    expect(ended.thread_id).toBeNull();
    expect(await statusOf(client.threads.get(firing.thread_id as string))).toBe(404);

    const keep = await client.crons.create("echo", { schedule: "0 * * * *", input: hi("kept"), onRunCompleted: "keep" });
    await makeDue(keep.cron_id);
    const kept = await until(async () => (await firings(keep.cron_id)).find((f) => f.run_id), "the firing");
    await client.runs.join(kept.thread_id as string, kept.run_id as string);
    const state = await client.threads.getState<{ messages: Array<{ content: string }> }>(kept.thread_id as string);
    expect(state.values.messages.at(-1)?.content).toBe("You said: kept");
    await client.crons.delete(cron.cron_id);
    await client.crons.delete(keep.cron_id);
  });

  it("refuses bad input with 4xx and writes nothing", async () => {
    const thread = await client.threads.create();
    const start = await cronCount();
    const valid = { assistant_id: "echo", schedule: "* * * * *" };
    const cases: Array<[string, string, unknown, number]> = [
      ["POST", "/runs/crons", { assistant_id: "echo" }, 422],
      ["POST", "/runs/crons", { schedule: "* * * * *" }, 422],
      ["POST", "/runs/crons", { ...valid, schedule: "not a cron" }, 422],
      ["POST", "/runs/crons", { ...valid, schedule: "61 * * * *" }, 422],
      ["POST", "/runs/crons", { ...valid, schedule: "* * *" }, 422],
      ["POST", "/runs/crons", { ...valid, timezone: "Mars/Olympus_Mons" }, 422],
      ["POST", "/runs/crons", { ...valid, end_time: "tomorrow" }, 422],
      ["POST", "/runs/crons", { ...valid, enabled: "yes" }, 422],
      ["POST", "/runs/crons", { ...valid, on_run_completed: "later" }, 422],
      ["POST", "/runs/crons", { ...valid, stream_mode: "nope" }, 422],
      ["POST", "/runs/crons", { ...valid, webhook: "" }, 422],
      ["POST", "/runs/crons", { ...valid, assistant_id: "no-such-graph" }, 404],
      ["POST", "/runs/crons", { ...valid, assistant_id: crypto.randomUUID() }, 404],
      ["POST", "/runs/crons", "[1, 2]", 422],
      ["POST", "/runs/crons", "{not json", 422],
      ["POST", `/threads/${thread.thread_id}/runs/crons`, { ...valid, multitask_strategy: "ignore" }, 422],
      ["POST", `/threads/${thread.thread_id}/runs/crons`, { ...valid, schedule: "" }, 422],
      ["POST", `/threads/${crypto.randomUUID()}/runs/crons`, valid, 404],
      ["POST", "/threads/not-a-uuid/runs/crons", valid, 422],
      ["POST", "/runs/crons/search", { limit: 0 }, 422],
      ["POST", "/runs/crons/search", { sort_by: "schedule" }, 422],
      ["POST", "/runs/crons/search", { sort_order: "up" }, 422],
      ["POST", "/runs/crons/search", { select: ["cron_id", "password"] }, 422],
      ["POST", "/runs/crons/search", { thread_id: "x" }, 422],
      ["POST", "/runs/crons/search", { enabled: "true" }, 422],
      ["POST", "/runs/crons/count", { thread_id: 5 }, 422],
      ["POST", "/runs/crons/count", { metadata: [] }, 422],
      ["GET", "/runs/crons/not-a-uuid", undefined, 422],
      ["GET", `/runs/crons/${crypto.randomUUID()}`, undefined, 404],
      ["DELETE", "/runs/crons/not-a-uuid", undefined, 422],
      ["PATCH", "/runs/crons/not-a-uuid", {}, 422],
      ["PATCH", `/runs/crons/${crypto.randomUUID()}`, { enabled: false }, 404],
    ];
    for (const [method, path, body, expected] of cases) {
      const res = await http(method, path, body);
      expect({ method, path, body, status: res.status }).toEqual({ method, path, body, status: expected });
      expect(res.json).toMatchObject({ detail: expect.any(String) });
    }
    expect(await cronCount()).toBe(start);

    // Bad patches change nothing.
    const cron = await client.crons.createForThread(thread.thread_id, "echo", {
      schedule: "*/10 * * * *",
      metadata: { keep: true },
    });
    for (const body of [
      { schedule: "every day" },
      { timezone: "Nowhere/Land" },
      { end_time: "soon" },
      { enabled: 1 },
      { metadata: "x" },
      { on_run_completed: "never" },
    ]) {
      const res = await http("PATCH", `/runs/crons/${cron.cron_id}`, body);
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
    }
    const unchanged = await http("GET", `/runs/crons/${cron.cron_id}`);
    expect(unchanged.json).toMatchObject({
      schedule: "*/10 * * * *",
      enabled: true,
      metadata: { keep: true },
      updated_at: cron.updated_at,
    });
    expect((await http("DELETE", `/runs/crons/${cron.cron_id}`)).status).toBe(204);
  });
});
