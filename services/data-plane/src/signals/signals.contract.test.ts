import { randomUUID } from "node:crypto";
import { createLogger, createRedis, jsonBytes, jsonText, type Redis } from "@langopen/common";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type CancelAction,
  compareEventIds,
  createLocalEventLogs,
  createLocalSignals,
  createRedisSignals,
  EVENT_OVERHEAD_BYTES,
  EVENTS_DROPPED,
  type Signals,
  StaleEpochError,
  type StreamEvent,
} from "../index.js";

// One contract, two implementations: what the api-server and the worker rely on must hold the
// same over Redis (split mode) and in-process (the one-machine mode).
const logger = createLogger({ service: "test", level: "silent" });
let redis: Redis;

beforeAll(() => {
  redis = createRedis(inject("redisUrl"), logger, "signals-contract");
});
afterAll(() => {
  redis?.disconnect();
});

const implementations: Array<[string, () => Signals]> = [
  ["in-process", () => createLocalSignals({ threadRetentionSeconds: 60 })],
  ["Redis", () => createRedisSignals({ redis, logger, prefix: `contract-${randomUUID()}`, threadRetentionSeconds: 60 })],
];

const never = new AbortController().signal;
const events = (...names: string[]) => names.map((event, i) => ({ event, data: jsonBytes({ i }) }));
/** An event's data as text. */
const text = (e: StreamEvent | undefined) => (e ? jsonText(e.data) : undefined);

describe.each(implementations)("signals contract: %s", (_name, make) => {
  let signals: Signals;
  beforeAll(() => {
    signals = make();
  });
  afterAll(async () => {
    await signals?.close();
  });

  describe("wake-ups", () => {
    it("hands each wake-up to one waiter, and times out when there is none", async () => {
      expect(await signals.waitForWake(50, never)).toBe(false);
      await signals.wake();
      expect(await signals.waitForWake(2_000, never)).toBe(true);
      expect(await signals.waitForWake(50, never)).toBe(false);
    });

    it("wakes a worker that is already waiting", async () => {
      const waiting = signals.waitForWake(5_000, never);
      await new Promise((r) => setTimeout(r, 50));
      await signals.wake();
      expect(await waiting).toBe(true);
    });

    it("stops waiting when the caller aborts", async () => {
      const abort = new AbortController();
      const waiting = signals.waitForWake(10_000, abort.signal);
      setTimeout(() => abort.abort(), 50);
      const started = Date.now();
      expect(await waiting).toBe(false);
      expect(Date.now() - started).toBeLessThan(9_000);
    });
  });

  describe("notices", () => {
    // A subscription may take a moment to reach Redis: a notice is published until it arrives
    // (a lost notice only delays; what counts is that one arrives, with what was sent).
    it("delivers cancels with their action, until the handler is removed", async () => {
      const runId = randomUUID();
      const got: Array<[string, CancelAction]> = [];
      const off = signals.onCancel((id, action) => {
        if (id === runId) got.push([id, action]);
      });
      await until(async () => {
        await signals.publishCancel(runId, "rollback");
        return got.length > 0;
      }, "a cancel notice");
      expect(got[0]).toEqual([runId, "rollback"]);
      off();
      const before = got.length;
      await signals.publishCancel(runId, "interrupt");
      await new Promise((r) => setTimeout(r, 100));
      expect(got.length).toBe(before);
    });

    it("delivers run ends and webhook notices", async () => {
      const runId = randomUUID();
      let ended = false;
      let due = 0;
      const offDone = signals.onRunDone((id) => {
        if (id === runId) ended = true;
      });
      const offDue = signals.onWebhooksDue(() => {
        due += 1;
      });
      await until(async () => {
        await signals.publishRunDone(runId);
        return ended;
      }, "a run-done notice");
      await until(async () => {
        await signals.publishWebhooksDue();
        return due > 0;
      }, "a webhook notice");
      offDone();
      offDue();
    });
  });

  describe("event logs", () => {
    it("answers ids in order and replays from the start, or strictly after an id", async () => {
      const runId = randomUUID();
      const threadId = randomUUID();
      const ids = await signals.appendEvents(runId, threadId, events("metadata", "values", "end"));
      expect(ids).toHaveLength(3);
      expect([...ids].sort(compareEventIds)).toEqual(ids);
      for (const start of ["", "-1", "0"]) {
        expect((await signals.readEvents(runId, start, 0, never)).map((e) => e.event)).toEqual(["metadata", "values", "end"]);
      }
      const rest = await signals.readEvents(runId, ids[0] as string, 0, never);
      expect(rest.map((e) => e.id)).toEqual(ids.slice(1));
      expect(text(rest[0])).toBe(JSON.stringify({ i: 1 }));
      expect(await signals.readEvents(runId, ids[2] as string, 0, never)).toEqual([]);
      expect(await signals.readEvents(randomUUID(), "", 0, never)).toEqual([]);
    });

    it("keeps event data byte for byte: multi-byte text, and a plain Uint8Array viewing part of a larger buffer", async () => {
      const runId = randomUUID();
      const threadId = randomUUID();
      const json = JSON.stringify({ text: "héllo wörld – 東京 🚀", n: [1, 2, 3] });
      const encoded = jsonBytes(JSON.parse(json));
      // What a decoded protobuf message hands over: a view into the bytes of the whole message.
      const frame = new Uint8Array(encoded.length + 10).fill(0x7b);
      frame.set(encoded, 5);
      const view = frame.subarray(5, 5 + encoded.length);
      expect(Buffer.isBuffer(view)).toBe(false);
      await signals.appendEvents(runId, threadId, [{ event: "values", data: view }]);
      const [read] = await signals.readEvents(runId, "", 0, never);
      expect(text(read)).toBe(json);
      expect(read?.data.length).toBe(encoded.length);
      const [threadRead] = await signals.readThreadEvents(threadId, "-", 0, never);
      expect(text(threadRead)).toBe(json);
      expect(threadRead?.runId).toBe(runId);
    });

    it("keeps only the run's log for a run without a thread log (a temporary thread's)", async () => {
      const runId = randomUUID();
      const ids = await signals.appendEvents(runId, null, events("metadata", "values", "end"));
      expect((await signals.readEvents(runId, "", 0, never)).map((e) => e.id)).toEqual(ids);
      expect(await signals.readThreadEvents("", "-", 0, never)).toEqual([]);
      expect(await signals.threadEventsTail("")).toBe("0-0");
    });

    it("wakes a reader waiting on an empty log when events arrive", async () => {
      const runId = randomUUID();
      const reading = signals.readEvents(runId, "", 5_000, never);
      await new Promise((r) => setTimeout(r, 50));
      await signals.appendEvents(runId, randomUUID(), events("values"));
      expect((await reading).map((e) => e.event)).toEqual(["values"]);
    });

    it("answers an empty page after the wait when nothing arrives, or at once when aborted", async () => {
      expect(await signals.readEvents(randomUUID(), "", 50, never)).toEqual([]);
      const abort = new AbortController();
      const reading = signals.readEvents(randomUUID(), "", 10_000, abort.signal);
      setTimeout(() => abort.abort(), 50);
      expect(await reading).toEqual([]);
    });

    it("refuses an append of a superseded attempt and nothing of it is kept", async () => {
      const runId = randomUUID();
      const threadId = randomUUID();
      await signals.appendEvents(runId, threadId, events("a"), 1n);
      await signals.appendEvents(runId, threadId, events("b"), 2n);
      await expect(signals.appendEvents(runId, threadId, events("zombie"), 1n)).rejects.toBeInstanceOf(StaleEpochError);
      // An empty append fences too: a newer attempt claims the log before it has anything to say.
      await signals.appendEvents(runId, threadId, [], 3n);
      await expect(signals.appendEvents(runId, threadId, events("zombie"), 2n)).rejects.toBeInstanceOf(StaleEpochError);
      expect((await signals.readEvents(runId, "", 0, never)).map((e) => e.event)).toEqual(["a", "b"]);
    });

    it("keeps every run of a thread in one log, in order, with each event's run", async () => {
      const threadId = randomUUID();
      const [first, second] = [randomUUID(), randomUUID()];
      expect(await signals.threadEventsTail(threadId)).toBe("0-0");
      await signals.appendEvents(first, threadId, events("metadata", "end"));
      await signals.appendEvents(second, threadId, events("metadata", "end"));
      const log = await signals.readThreadEvents(threadId, "-", 0, never);
      expect(log.map((e) => [e.runId, e.event])).toEqual([
        [first, "metadata"],
        [first, "end"],
        [second, "metadata"],
        [second, "end"],
      ]);
      expect(await signals.threadEventsTail(threadId)).toBe(log.at(-1)?.id);
      const after = await signals.readThreadEvents(threadId, log[1]?.id as string, 0, never);
      expect(after.map((e) => e.runId)).toEqual([second, second]);
    });

    it("drops a thread's log and wakes its readers", async () => {
      const threadId = randomUUID();
      await signals.appendEvents(randomUUID(), threadId, events("end"));
      const tail = await signals.threadEventsTail(threadId);
      const reading = signals.readThreadEvents(threadId, tail, 10_000, never);
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await signals.dropThreadEvents(threadId);
      expect(await reading).toEqual([]);
      expect(Date.now() - started).toBeLessThan(9_000);
      expect(await signals.readThreadEvents(threadId, "-", 0, never)).toEqual([]);
    });

    it("drops a run's log once its retention has passed", async () => {
      const runId = randomUUID();
      await signals.appendEvents(runId, randomUUID(), events("end"));
      await signals.expireEvents(runId, 1);
      expect(await signals.readEvents(runId, "", 0, never)).toHaveLength(1);
      await until(async () => (await signals.readEvents(runId, "", 0, never)).length === 0, "the run's log to expire", {
        timeoutMs: 10_000,
        intervalMs: 200,
      });
    });
  });

  it("reports itself healthy", async () => {
    expect(await signals.healthy()).toBe(true);
  });
});

// Event logs within budgets: every event below costs SIZE bytes (ASCII, so bytes and characters
// agree in both implementations); a log's budget holds KEPT of them.
const DATA_TEXT = JSON.stringify({ text: "x".repeat(1_000) });
const DATA = jsonBytes(JSON.parse(DATA_TEXT));
const SIZE = "values".length + DATA.length + EVENT_OVERHEAD_BYTES;
const KEPT = 4;
const budgeted: Array<[string, () => Signals]> = [
  ["in-process", () => createLocalSignals({ maxLogBytes: Math.floor((KEPT + 0.5) * SIZE), maxEvents: 6 })],
  [
    "Redis",
    () =>
      createRedisSignals({
        redis,
        logger,
        prefix: `contract-${randomUUID()}`,
        maxLogBytes: Math.floor((KEPT + 0.5) * SIZE),
        maxEvents: 6,
      }),
  ],
];

const dropped = (e: StreamEvent | undefined) => {
  if (e?.event !== "error") return undefined;
  const data = JSON.parse(jsonText(e.data)) as { error?: string; dropped_through?: string };
  return data.error === EVENTS_DROPPED ? data.dropped_through : undefined;
};

describe.each(budgeted)("event log budgets: %s", (_name, make) => {
  let signals: Signals;
  beforeAll(() => {
    signals = make();
  });
  afterAll(async () => {
    await signals?.close();
  });

  it("drops a log's oldest events past its byte budget; a reader that keeps up gets them all, one that resumes before them gets the marker", async () => {
    const runId = randomUUID();
    const threadId = randomUUID();
    const ids: string[] = [];
    const live: StreamEvent[] = [];
    let last = "-1";
    for (let i = 0; i < 10; i++) {
      ids.push(...(await signals.appendEvents(runId, threadId, [{ event: "values", data: DATA }])));
      const page = await signals.readEvents(runId, last, 0, never);
      live.push(...page);
      last = page.at(-1)?.id ?? last;
    }
    // A reader that keeps up: every event, no marker.
    expect(live.map((e) => e.id)).toEqual(ids);
    expect(live.every((e) => e.event === "values" && text(e) === DATA_TEXT)).toBe(true);

    // From the start: the marker (its id the newest dropped), then the kept tail, oldest first.
    const replay = await signals.readEvents(runId, "-1", 0, never);
    expect(replay).toHaveLength(KEPT + 1);
    expect(replay[0]?.id).toBe(ids[9 - KEPT]);
    expect(dropped(replay[0])).toBe(ids[9 - KEPT]);
    expect(replay.slice(1).map((e) => e.id)).toEqual(ids.slice(10 - KEPT));
    // Resumed from a dropped id: the marker too; from the marker's id or later: only what follows.
    const resumed = await signals.readEvents(runId, ids[2] as string, 0, never);
    expect(dropped(resumed[0])).toBe(ids[9 - KEPT]);
    expect(resumed.slice(1).map((e) => e.id)).toEqual(ids.slice(10 - KEPT));
    expect((await signals.readEvents(runId, ids[9 - KEPT] as string, 0, never)).map((e) => e.id)).toEqual(ids.slice(10 - KEPT));
    expect((await signals.readEvents(runId, ids[8] as string, 0, never)).map((e) => e.id)).toEqual([ids[9]]);

    // The thread's log keeps within the same budget, with its own marker first.
    const thread = await signals.readThreadEvents(threadId, "-", 0, never);
    expect(thread).toHaveLength(KEPT + 1);
    expect(dropped(thread[0])).toBe(thread[0]?.id);
    expect(thread.slice(1).every((e) => e.runId === runId && text(e) === DATA_TEXT)).toBe(true);
  });

  it("keeps the newest event even when it alone is over the budget", async () => {
    const runId = randomUUID();
    const threadId = randomUUID();
    const big = JSON.stringify({ text: "y".repeat(10 * SIZE) });
    const [first] = await signals.appendEvents(runId, threadId, events("metadata"));
    const [id] = await signals.appendEvents(runId, threadId, [{ event: "values", data: jsonBytes(JSON.parse(big)) }]);
    const replay = await signals.readEvents(runId, "", 0, never);
    expect(dropped(replay[0])).toBe(first);
    expect(replay.slice(1).map((e) => ({ id: e.id, event: e.event, data: text(e) }))).toEqual([
      { id, event: "values", data: big },
    ]);
    // The next event pushes it out: the budget holds again.
    const [next] = await signals.appendEvents(runId, threadId, events("end"));
    const after = await signals.readEvents(runId, "", 0, never);
    expect(dropped(after[0])).toBe(id);
    expect(after.slice(1).map((e) => e.id)).toEqual([next]);
  });

  it("drops the oldest events past the count budget, with the same marker, within one append", async () => {
    const runId = randomUUID();
    const ids = await signals.appendEvents(runId, randomUUID(), events("a", "b", "c", "d", "e", "f", "g", "h"));
    const replay = await signals.readEvents(runId, "0", 0, never);
    expect(dropped(replay[0])).toBe(ids[1]);
    expect(replay.slice(1).map((e) => e.event)).toEqual(["c", "d", "e", "f", "g", "h"]);
  });

  it("answers a log that dropped nothing without a marker", async () => {
    const runId = randomUUID();
    await signals.appendEvents(runId, randomUUID(), events("metadata", "end"));
    expect((await signals.readEvents(runId, "-1", 0, never)).map((e) => e.event)).toEqual(["metadata", "end"]);
  });
});

describe("in-process event logs: the total budget", () => {
  it("drops the oldest events of any log first, counts an event once for its run's and its thread's log, and frees what retention drops", async () => {
    const logs = createLocalEventLogs({ maxLogBytes: 100 * SIZE, maxTotalBytes: Math.floor(5.5 * SIZE) });
    try {
      const threadId = randomUUID();
      const [older, newer] = [randomUUID(), randomUUID()];
      const olderIds = await logs.appendEvents(
        older,
        threadId,
        [1, 2, 3].map(() => ({ event: "values", data: DATA })),
      );
      expect(logs.usage()).toEqual({ bytes: 3 * SIZE, events: 3 });
      const newerIds = await logs.appendEvents(
        newer,
        threadId,
        [1, 2, 3, 4].map(() => ({ event: "values", data: DATA })),
      );
      // 7 events over a budget of 5.5: the two oldest (of the older run) went.
      expect(logs.usage()).toEqual({ bytes: 5 * SIZE, events: 5 });
      const olderReplay = await logs.readEvents(older, "-1", 0, never);
      expect(dropped(olderReplay[0])).toBe(olderIds[1]);
      expect(olderReplay.slice(1).map((e) => e.id)).toEqual([olderIds[2]]);
      expect((await logs.readEvents(newer, "-1", 0, never)).map((e) => e.id)).toEqual(newerIds);
      const thread = await logs.readThreadEvents(threadId, "-", 0, never);
      expect(dropped(thread[0])).toBe(olderIds[1]);
      expect(thread.slice(1).map((e) => e.id)).toEqual([olderIds[2], ...newerIds]);

      // Gone from the run's log (retention) and the thread's: out of the total.
      await logs.dropThreadEvents(threadId);
      expect(logs.usage().events).toBe(5);
      await logs.expireEvents(older, 0.05);
      await until(async () => logs.usage().events === 4, "the older run's log to expire", { timeoutMs: 5_000, intervalMs: 20 });
      expect(logs.usage()).toEqual({ bytes: 4 * SIZE, events: 4 });
    } finally {
      logs.close();
    }
  });
});

describe("in-process event logs: what an event holds on to", () => {
  it("keeps a small event's own bytes, not the larger buffer its data was a view of; a large one as it came", async () => {
    const logs = createLocalEventLogs();
    try {
      const runId = randomUUID();
      const message = new Uint8Array(64 * 1024).fill(0x20);
      message.set(jsonBytes({ small: true }), 100);
      const small = message.subarray(100, 100 + jsonBytes({ small: true }).length);
      const large = jsonBytes({ text: "z".repeat(100_000) });
      await logs.appendEvents(runId, randomUUID(), [
        { event: "custom", data: small },
        { event: "values", data: large },
      ]);
      const [first, second] = await logs.readEvents(runId, "", 0, never);
      expect(text(first)).toBe('{"small":true}');
      // Counted as 14 bytes, it must not keep 64 KiB alive for as long as the log is kept.
      expect(first?.data.buffer.byteLength).toBe(first?.data.length);
      expect(second?.data).toBe(large);
    } finally {
      logs.close();
    }
  });
});

describe("Redis event logs: the total budget", () => {
  it("empties the logs least recently appended to, keeps their marker, and takes a dropped thread's log out of the sum", async () => {
    const prefix = `contract-total-${randomUUID()}`;
    // Each run below writes 2 events to its log and its thread's: 4 events' worth in Redis.
    const signals = createRedisSignals({ redis, logger, prefix, maxLogBytes: 100 * SIZE, maxTotalBytes: 9 * SIZE });
    const sizes = `${prefix}:event-logs:sizes`;
    try {
      const two = () => [1, 2].map(() => ({ event: "values", data: DATA }));
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const [ta, tb, tc] = [randomUUID(), randomUUID(), randomUUID()];
      // Ages are milliseconds: apart, so that which run's logs are oldest is not a tie.
      const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
      const aIds = await signals.appendEvents(a, ta, two());
      // The thread's log numbers its entries itself (the same as the run's only when no millisecond
      // passed between the two appends).
      const taIds = (await signals.readThreadEvents(ta, "-", 0, never)).map((e) => e.id);
      await tick();
      const bIds = await signals.appendEvents(b, tb, two());
      expect(Number(await redis.hget(sizes, "_total"))).toBe(8 * SIZE);
      await tick();
      const cIds = await signals.appendEvents(c, tc, two());
      // 12 over 9: both of a's logs (the least recently appended to) were emptied.
      expect(Number(await redis.hget(sizes, "_total"))).toBe(8 * SIZE);
      const aReplay = await signals.readEvents(a, "-1", 0, never);
      expect(aReplay.map(dropped)).toEqual([aIds[1]]);
      expect(dropped((await signals.readThreadEvents(ta, "-", 0, never))[0])).toBe(taIds[1]);
      expect((await signals.readEvents(b, "-1", 0, never)).map((e) => e.id)).toEqual(bIds);
      expect((await signals.readEvents(c, "-1", 0, never)).map((e) => e.id)).toEqual(cIds);

      // A run appending again after its log was emptied still marks what went before.
      await tick();
      const [again] = await signals.appendEvents(a, ta, [{ event: "values", data: DATA }]);
      const resumed = await signals.readEvents(a, "-1", 0, never);
      expect(dropped(resumed[0])).toBe(aIds[1]);
      expect(resumed.slice(1).map((e) => e.id)).toEqual([again]);

      const before = Number(await redis.hget(sizes, "_total"));
      await signals.dropThreadEvents(tc);
      expect(Number(await redis.hget(sizes, "_total"))).toBe(before - 2 * SIZE);
    } finally {
      await signals.close();
    }
  });
});
