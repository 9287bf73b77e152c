import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TEST_GRAPHS, type TestStack } from "./test-fixtures/stack.js";
import { statusOf } from "./test-fixtures/status.js";

/**
 * The limits of what callers may ask (issue 13): minute-granular cron schedules, a bounded
 * after_seconds, a cap on the runs waiting on one thread and a budget for the whole backlog,
 * each refused in the upstream error shape and without writing anything.
 */

const MAX_QUEUED = 3;
const MAX_PENDING = 4;
const MAX_AFTER = 3_600;

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await startTestStack(TEST_GRAPHS, {
    launcher: {
      // One run at a time: the backlog of the admission test stays put while it is measured.
      workerConcurrency: 1,
      runLimits: {
        runMaxQueuedPerThread: MAX_QUEUED,
        runMaxPending: MAX_PENDING,
        runMaxAfterSeconds: MAX_AFTER,
        runBacklogRefreshMs: 10,
      },
    },
  });
  client = new Client({ apiUrl: stack.url });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

/** Raw HTTP, for the answer's headers and body (the SDK keeps neither). */
async function http(method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (text === "" ? undefined : JSON.parse(text)) as unknown, text };
}

const hi = { messages: [{ role: "human", content: "hi" }] };

async function pendingOn(threadId: string): Promise<number> {
  return (await client.runs.list(threadId, { status: "pending", limit: 100 })).length;
}

describe("cron schedules", () => {
  it("refuses a seconds field on create (422) and creates nothing", async () => {
    const before = await client.crons.count({});
    for (const schedule of ["* * * * * *", "*/1 * * * * *"]) {
      expect(await statusOf(client.crons.create("echo", { schedule, input: hi }))).toBe(422);
    }
    const thread = await client.threads.create();
    const res = await http("POST", `/threads/${thread.thread_id}/runs/crons`, {
      assistant_id: "echo",
      schedule: "* * * * * *",
      input: hi,
    });
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ detail: expect.stringContaining("seconds") });
    expect(await client.crons.count({})).toBe(before);
  });

  it("refuses a seconds field on update (422) and keeps the schedule", async () => {
    const cron = await client.crons.create("echo", { schedule: "0 0 1 1 *", input: hi });
    const res = await http("PATCH", `/runs/crons/${cron.cron_id}`, { schedule: "* * * * * *" });
    expect(res.status, res.text).toBe(422);
    expect(res.json).toEqual({ detail: expect.stringContaining("seconds") });
    const kept = await http("GET", `/runs/crons/${cron.cron_id}`);
    expect((kept.json as { schedule: string }).schedule).toBe("0 0 1 1 *");
    // A change that leaves the schedule alone still passes.
    expect((await http("PATCH", `/runs/crons/${cron.cron_id}`, { enabled: false })).status).toBe(200);
    await client.crons.delete(cron.cron_id);
  });
});

describe("after_seconds", () => {
  it("is refused beyond its bound or below zero (422), accepted up to it", async () => {
    const thread = await client.threads.create();
    for (const afterSeconds of [MAX_AFTER + 1, 1e9, -1]) {
      const res = await http("POST", `/threads/${thread.thread_id}/runs`, {
        assistant_id: "echo",
        input: hi,
        after_seconds: afterSeconds,
      });
      expect(res.status, res.text).toBe(422);
      expect(res.json).toEqual({ detail: expect.stringContaining("after_seconds") });
    }
    expect(await client.runs.list(thread.thread_id)).toEqual([]);
    const run = await client.runs.create(thread.thread_id, "echo", { input: hi, afterSeconds: MAX_AFTER });
    expect(run.status).toBe("pending");
    await client.runs.cancel(thread.thread_id, run.run_id);
  });
});

describe("runs queued on one thread", () => {
  it("refuses a run beyond the cap with 429 and Retry-After, writing nothing, and takes one again once there is room", async () => {
    const thread = await client.threads.create();
    // Delayed: no worker takes them meanwhile (and they are not due, so the backlog budget ignores them).
    const queued = [];
    for (let i = 0; i < MAX_QUEUED; i++) {
      queued.push(await client.runs.create(thread.thread_id, "echo", { input: hi, afterSeconds: 600 }));
    }
    const refused = await http("POST", `/threads/${thread.thread_id}/runs`, {
      assistant_id: "echo",
      input: hi,
      after_seconds: 600,
    });
    expect(refused.status, refused.text).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.json).toEqual({ detail: expect.stringContaining(`${MAX_QUEUED} runs waiting`) });
    // The SDK's own calls are refused the same way (streamed and waited ones too).
    expect(await statusOf(client.runs.create(thread.thread_id, "echo", { input: hi }))).toBe(429);
    expect(await statusOf(client.runs.wait(thread.thread_id, "echo", { input: hi }))).toBe(429);
    const streamed = (async () => {
      for await (const _ of client.runs.stream(thread.thread_id, "echo", { input: hi })) {
        // The refusal comes before any event.
      }
    })();
    expect(await statusOf(streamed)).toBe(429);
    expect((await client.runs.list(thread.thread_id)).length).toBe(MAX_QUEUED);
    // A strategy that ends the waiting runs is not held back by them.
    const interrupting = await client.runs.create(thread.thread_id, "echo", {
      input: hi,
      afterSeconds: 600,
      multitaskStrategy: "interrupt",
    });
    expect(await pendingOn(thread.thread_id)).toBe(1);
    await client.runs.cancel(thread.thread_id, interrupting.run_id);
    expect((await client.runs.create(thread.thread_id, "echo", { input: hi, afterSeconds: 600 })).status).toBe("pending");
    for (const run of await client.runs.list(thread.thread_id, { status: "pending" })) {
      await client.runs.cancel(thread.thread_id, run.run_id);
    }
  });

  it("holds under concurrent creates with mixed strategies: never more than the cap waiting, never a 5xx", async () => {
    const thread = await client.threads.create();
    const strategies = ["enqueue", "enqueue", "reject", "interrupt", "rollback"] as const;
    const statuses: number[] = [];
    let next = 0;
    const total = 96;
    let most = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const i = next++;
          const res = await http("POST", `/threads/${thread.thread_id}/runs`, {
            assistant_id: "echo",
            input: hi,
            after_seconds: 600,
            multitask_strategy: strategies[i % strategies.length],
            ...(i % 4 === 0 && { if_not_exists: "create" }),
          });
          statuses.push(res.status);
          if (i % 8 === 0) most = Math.max(most, await pendingOn(thread.thread_id));
        }
      }),
    );
    most = Math.max(most, await pendingOn(thread.thread_id));
    expect(statuses.filter((s) => ![200, 409, 429].includes(s))).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(MAX_QUEUED);
    for (const run of await client.runs.list(thread.thread_id, { status: "pending" })) {
      await client.runs.cancel(thread.thread_id, run.run_id);
    }
  });
});

describe("admission control", () => {
  it("refuses new runs with 429 and Retry-After while the backlog of runnable runs is over its budget", async () => {
    // The one worker slot is taken by a long run; what follows waits, due, in the backlog.
    const busy = await client.threads.create();
    const long = await client.runs.create(busy.thread_id, "slow", { input: {}, config: { configurable: { ticks: 600 } } });
    const deadline = Date.now() + 20_000;
    while ((await client.runs.get(busy.thread_id, long.run_id)).status !== "running" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const waiting: Array<{ threadId: string; runId: string }> = [];
    for (let i = 0; i < MAX_PENDING; i++) {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "echo", { input: hi });
      waiting.push({ threadId: thread.thread_id, runId: run.run_id });
    }
    const thread = await client.threads.create();
    const refused = await http("POST", `/threads/${thread.thread_id}/runs`, { assistant_id: "echo", input: hi });
    expect(refused.status, refused.text).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.json).toEqual({ detail: expect.stringContaining("try again later") });
    // Stateless runs and streamed ones are admitted the same way; nothing was written.
    expect(await statusOf(client.runs.wait(null, "echo", { input: hi }))).toBe(429);
    expect(await client.runs.list(thread.thread_id)).toEqual([]);
    // Once the backlog drains, runs are admitted again.
    for (const { threadId, runId } of waiting) await client.runs.cancel(threadId, runId);
    await client.runs.cancel(busy.thread_id, long.run_id);
    const admitted = await client.runs.wait(thread.thread_id, "echo", { input: hi });
    expect(admitted).toBeTruthy();
  }, 60_000);
});

describe("store prefix search", () => {
  it("matches the prefix literally: a backslash in it is not LIKE's escape", async () => {
    await client.store.putItem(["limits-users", "alice"], "profile", { who: "alice" });
    await client.store.putItem(["limits-users\\", "bob"], "profile", { who: "bob" });
    const found = async (prefix: string[]) =>
      (await client.store.searchItems(prefix, { limit: 10 })).items.map((item) => item.value.who).sort();
    expect(await found(["limits-users\\"])).toEqual(["bob"]);
    expect(await found(["limits-users"])).toEqual(["alice"]);
  });
});
