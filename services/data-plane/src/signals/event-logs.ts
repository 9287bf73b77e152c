import { EventEmitter } from "node:events";
import { type Redis, type RedisKeys, wakeableDelay } from "@langopen/common";
import type { RedisChannels } from "./redis-channels.js";
import { waitForEvent } from "./wake-ups.js";

/** One event of a run's stream; data is JSON text, passed through unchanged. */
export interface StreamEvent {
  id: string;
  event: string;
  data: string;
}

/** One event of a thread's log: a run event with the run it belongs to; `id` orders the thread's log. */
export interface ThreadStreamEvent extends StreamEvent {
  runId: string;
}

/**
 * The event logs: every run's events in order (what its streams, joins and resumes replay), and
 * every thread's (every event of every run on the thread, which thread streams read). Appends are
 * fenced by the run attempt's epoch.
 */
export interface EventLogs {
  /**
   * Appends events to the run's log (and its thread's), returning their ids in order. With an
   * epoch (the run attempt's lease epoch), the append is refused with StaleEpochError once a
   * newer epoch has appended: a paused worker cannot write into its successor's stream.
   */
  appendEvents(
    runId: string,
    threadId: string,
    events: Array<{ event: string; data: string }>,
    epoch?: bigint,
  ): Promise<string[]>;
  /** The run's events after `after` ("" or "-1" or "0": from the start), waiting up to blockMs for new ones. */
  readEvents(runId: string, after: string, blockMs: number, signal: AbortSignal): Promise<StreamEvent[]>;
  /** Keeps the run's log for retentionSeconds more, then drops it. */
  expireEvents(runId: string, retentionSeconds: number): Promise<void>;
  /**
   * The thread's log after `after` ("-", "-1", "0": from the start), at most a page of it,
   * waiting up to blockMs for new events. The log holds every event of every run on the
   * thread, with ids of its own; it is kept for the thread retention after its newest event.
   */
  readThreadEvents(threadId: string, after: string, blockMs: number, signal: AbortSignal): Promise<ThreadStreamEvent[]>;
  /** The id of the newest event in the thread's log ("0-0" when it holds none): where a live-only read starts. */
  threadEventsTail(threadId: string): Promise<string>;
  /** Drops the thread's log at once (the thread is gone), waking its readers. */
  dropThreadEvents(threadId: string): Promise<void>;
}

export interface EventLogOptions {
  /** Upper bound of events kept per run and per thread. */
  maxEvents?: number;
  /** Seconds a thread's log is kept after its newest event. */
  threadRetentionSeconds?: number;
}

/** An append made for a run attempt that a newer attempt has superseded. */
export class StaleEpochError extends Error {
  constructor(runId: string, epoch: bigint) {
    super(`run ${runId}: epoch ${epoch} has been superseded; its events are refused`);
    this.name = "StaleEpochError";
  }
}

/**
 * One round trip per batch of events: refuses the batch when its epoch is stale, else appends
 * each event once to the run's log and once to its thread's log (with the run's id of the
 * event), renews the thread log's expiry and announces both logs once per batch (the logs
 * are the messages; the announcements carry no event, so nothing is encoded again).
 * KEYS: the run's stream, its epoch key, the thread's stream. ARGV: epoch (0: unfenced), max
 * length, thread retention seconds, run live channel, thread live channel, run id, then event
 * and data of each event. Answers the run log's ids, or false when the epoch is stale.
 */
const APPEND_EVENTS = `
local epoch = tonumber(ARGV[1])
if epoch > 0 then
  local current = tonumber(redis.call('GET', KEYS[2]) or '0')
  if epoch < current then return false end
  if epoch > current then redis.call('SET', KEYS[2], ARGV[1], 'EX', 604800) end
end
local ids = {}
for i = 7, #ARGV, 2 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[i], 'data', ARGV[i + 1])
  ids[#ids + 1] = id
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'run_id', ARGV[6], 'id', id, 'event', ARGV[i], 'data', ARGV[i + 1])
end
if #ids > 0 then
  redis.call('EXPIRE', KEYS[3], ARGV[3])
  redis.call('PUBLISH', ARGV[4], ids[#ids])
  redis.call('PUBLISH', ARGV[5], '1')
end
return ids`;

/** The Redis client with the append script defined (sent once, then called by its SHA). */
type RedisWithAppend = Redis & {
  langopenAppendEvents(...args: Array<string | number>): Promise<string[] | null>;
};

/** Orders "ms-seq" stream ids. */
export function compareEventIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am !== bm ? am - bm : as - bs;
}

const START_IDS = new Set(["", "-", "-1", "0", "0-0"]);

/** Whether a Last-Event-ID asks for the log from its start. */
export const fromStart = (after: string) => START_IDS.has(after);

/** Whether text is an event id of ours ("ms-seq", or "ms", each within Redis's 64-bit range), which logs can be read after. */
export const isEventId = (id: string) => /^\d{1,16}(?:-\d{1,19})?$/.test(id);

/** How long a thread's log is kept after its newest event, unless configured. */
export const DEFAULT_THREAD_RETENTION_SECONDS = 3_600;

/** Most events one readThreadEvents answers; the caller reads on from the last one. */
const THREAD_PAGE = 1_000;

/** Event logs as Redis Streams: one per run, one per thread; appends are announced on a channel per log. */
export function createRedisEventLogs(
  redis: Redis,
  keys: RedisKeys,
  channels: RedisChannels,
  options: EventLogOptions = {},
): EventLogs {
  const maxLen = options.maxEvents ?? 100_000;
  const threadRetention = Math.max(1, Math.round(options.threadRetentionSeconds ?? DEFAULT_THREAD_RETENTION_SECONDS));
  const liveChannel = (runId: string) => `${keys.runEvents(runId)}:live`;
  /** Announces, once per append, that the thread's log grew (the log itself is the message). */
  const threadLiveChannel = (threadId: string) => `${keys.threadEvents(threadId)}:live`;
  if (!("langopenAppendEvents" in redis)) redis.defineCommand("langopenAppendEvents", { numberOfKeys: 3, lua: APPEND_EVENTS });
  const scripted = redis as RedisWithAppend;

  const range = async (runId: string, after: string): Promise<StreamEvent[]> => {
    const start = fromStart(after) ? "-" : `(${after}`;
    const entries = await redis.xrange(keys.runEvents(runId), start, "+");
    return entries.map(([id, fields]) => ({ id, event: fields[1] ?? "", data: fields[3] ?? "null" }));
  };

  const threadRange = async (threadId: string, after: string): Promise<ThreadStreamEvent[]> => {
    const start = fromStart(after) ? "-" : `(${after}`;
    const entries = await redis.xrange(keys.threadEvents(threadId), start, "+", "COUNT", THREAD_PAGE);
    return entries.map(([id, fields]) => {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
      return { id, runId: f.get("run_id") ?? "", event: f.get("event") ?? "", data: f.get("data") ?? "null" };
    });
  };

  /**
   * Reads a log, waiting up to blockMs for it to grow when nothing is there yet. Subscribes to
   * the log's announcements before the first read, so nothing appended after it goes unnoticed;
   * announcements only say that the log grew, the log is the authority on what and in which order.
   */
  const readLive = async <T>(channel: string, read: () => Promise<T[]>, blockMs: number, signal: AbortSignal): Promise<T[]> => {
    let grew = false;
    let wake: () => void = () => {};
    const listener = () => {
      grew = true;
      wake();
    };
    channels.emitter.on(channel, listener);
    await channels.acquire(channel);
    try {
      const backlog = await read();
      if (backlog.length > 0 || blockMs <= 0 || signal.aborted) return backlog;
      if (!grew) {
        // The delay leaves no listener behind on the signal (a thread stream reads for hours).
        const delay = wakeableDelay(blockMs, signal);
        wake = delay.wake;
        await delay.done;
      }
      return grew ? read() : [];
    } finally {
      channels.emitter.off(channel, listener);
      await channels.release(channel);
    }
  };

  return {
    async appendEvents(runId, threadId, events, epoch) {
      if (events.length === 0 && !(epoch !== undefined && epoch > 0n)) return [];
      const args: string[] = [];
      for (const e of events) args.push(e.event, e.data);
      const answer = await scripted.langopenAppendEvents(
        keys.runEvents(runId),
        `${keys.runEvents(runId)}:epoch`,
        keys.threadEvents(threadId),
        String(epoch ?? 0n),
        String(maxLen),
        String(threadRetention),
        liveChannel(runId),
        threadLiveChannel(threadId),
        runId,
        ...args,
      );
      if (answer === null) throw new StaleEpochError(runId, epoch ?? 0n);
      return answer.map(String);
    },

    readEvents: (runId, after, blockMs, signal) => readLive(liveChannel(runId), () => range(runId, after), blockMs, signal),

    async expireEvents(runId, retentionSeconds) {
      await redis.expire(keys.runEvents(runId), Math.max(1, Math.round(retentionSeconds)));
    },

    // Subscribed before reading, so that nothing appended after the read goes unnoticed.
    readThreadEvents: (threadId, after, blockMs, signal) =>
      readLive(threadLiveChannel(threadId), () => threadRange(threadId, after), blockMs, signal),

    async threadEventsTail(threadId) {
      const [newest] = await redis.xrevrange(keys.threadEvents(threadId), "+", "-", "COUNT", 1);
      return newest?.[0] ?? "0-0";
    },

    async dropThreadEvents(threadId) {
      await redis.del(keys.threadEvents(threadId));
      // Wakes the thread's readers, which then find their thread gone.
      await redis.publish(threadLiveChannel(threadId), "0");
    },
  };
}

/** Event logs in this process, for the one-machine mode: the same contract without Redis. */
export function createLocalEventLogs(options: EventLogOptions = {}): EventLogs & { close(): void } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const logs = new Map<string, StreamEvent[]>();
  const epochs = new Map<string, bigint>();
  const timers = new Map<string, NodeJS.Timeout>();
  const maxThreadEvents = options.maxEvents ?? 100_000;
  const threadRetentionMs = (options.threadRetentionSeconds ?? DEFAULT_THREAD_RETENTION_SECONDS) * 1000;
  const threadLogs = new Map<string, ThreadStreamEvent[]>();
  const threadTimers = new Map<string, NodeJS.Timeout>();
  let lastMs = 0;
  let seq = 0;
  const nextId = () => {
    const now = Date.now();
    if (now > lastMs) {
      lastMs = now;
      seq = 0;
    } else seq += 1;
    return `${lastMs}-${seq}`;
  };
  const after = (runId: string, id: string) => {
    const log = logs.get(runId) ?? [];
    return fromStart(id) ? [...log] : log.filter((e) => compareEventIds(e.id, id) > 0);
  };
  const threadAfter = (threadId: string, id: string) => {
    const log = threadLogs.get(threadId) ?? [];
    const start = fromStart(id) ? 0 : log.findIndex((e) => compareEventIds(e.id, id) > 0);
    return start < 0 ? [] : log.slice(start, start + THREAD_PAGE);
  };
  const dropThread = (threadId: string) => {
    clearTimeout(threadTimers.get(threadId));
    threadTimers.delete(threadId);
    threadLogs.delete(threadId);
  };

  return {
    async appendEvents(runId, threadId, events, epoch) {
      if (epoch !== undefined && epoch > 0n) {
        const current = epochs.get(runId) ?? 0n;
        if (epoch < current) throw new StaleEpochError(runId, epoch);
        epochs.set(runId, epoch);
      }
      const log = logs.get(runId) ?? [];
      logs.set(runId, log);
      const threadLog = threadLogs.get(threadId) ?? [];
      threadLogs.set(threadId, threadLog);
      // Ids grow across all logs here, so the run's id also orders the thread's log.
      const ids = events.map((e) => {
        const id = nextId();
        log.push({ id, event: e.event, data: e.data });
        threadLog.push({ id, runId, event: e.event, data: e.data });
        return id;
      });
      if (threadLog.length > maxThreadEvents) threadLog.splice(0, threadLog.length - maxThreadEvents);
      if (events.length > 0) {
        clearTimeout(threadTimers.get(threadId));
        const timer = setTimeout(() => dropThread(threadId), threadRetentionMs);
        timer.unref();
        threadTimers.set(threadId, timer);
      }
      emitter.emit(`events:${runId}`);
      emitter.emit(`thread:${threadId}`);
      return ids;
    },
    async readEvents(runId, afterId, blockMs, signal) {
      const ready = after(runId, afterId);
      if (ready.length > 0 || blockMs <= 0) return ready;
      await waitForEvent(emitter, `events:${runId}`, blockMs, signal);
      return after(runId, afterId);
    },
    async expireEvents(runId, retentionSeconds) {
      clearTimeout(timers.get(runId));
      const timer = setTimeout(() => {
        logs.delete(runId);
        timers.delete(runId);
      }, retentionSeconds * 1000);
      timer.unref();
      timers.set(runId, timer);
    },
    async readThreadEvents(threadId, afterId, blockMs, signal) {
      const ready = threadAfter(threadId, afterId);
      if (ready.length > 0 || blockMs <= 0) return ready;
      await waitForEvent(emitter, `thread:${threadId}`, blockMs, signal);
      return threadAfter(threadId, afterId);
    },
    async threadEventsTail(threadId) {
      return threadLogs.get(threadId)?.at(-1)?.id ?? "0-0";
    },
    async dropThreadEvents(threadId) {
      dropThread(threadId);
      emitter.emit(`thread:${threadId}`);
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      for (const timer of threadTimers.values()) clearTimeout(timer);
      emitter.removeAllListeners();
    },
  };
}
