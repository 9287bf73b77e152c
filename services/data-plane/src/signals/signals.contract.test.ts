import { randomUUID } from "node:crypto";
import { createLogger, createRedis, type Redis } from "@langopen/common";
import { until } from "@langopen/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type CancelAction,
  compareEventIds,
  createLocalSignals,
  createRedisSignals,
  type Signals,
  StaleEpochError,
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
const events = (...names: string[]) => names.map((event, i) => ({ event, data: JSON.stringify({ i }) }));

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
      expect(rest[0]?.data).toBe(JSON.stringify({ i: 1 }));
      expect(await signals.readEvents(runId, ids[2] as string, 0, never)).toEqual([]);
      expect(await signals.readEvents(randomUUID(), "", 0, never)).toEqual([]);
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
