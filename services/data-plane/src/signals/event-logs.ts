import { EventEmitter } from "node:events";
import { jsonBytes, NULL_JSON_BYTES, type Redis, type RedisKeys, wakeableDelay } from "@langopen/common";
import type { RedisChannels } from "./redis-channels.js";
import { waitForEvent } from "./wake-ups.js";

/**
 * One event of a run's stream; data is the UTF-8 bytes of its JSON text, passed through
 * unchanged: from the runtime's message to the reader's, events are never decoded to text and
 * encoded again (for a 9 MB message streamed in four modes, that was seconds of work per run).
 */
export interface StreamEvent {
  id: string;
  event: string;
  data: Uint8Array;
}

/** An event to append: its name and the bytes of its JSON text. */
export interface EventInit {
  event: string;
  data: Uint8Array;
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
   * newer epoch has appended: a paused worker cannot write into its successor's stream. A null
   * threadId keeps no thread log: a stateless run's temporary thread, which no thread stream
   * can read (it is deleted with the run's end), would only hold a second copy of every event.
   */
  appendEvents(runId: string, threadId: string | null, events: EventInit[], epoch?: bigint): Promise<string[]>;
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
  /**
   * Byte budget of one log (a run's, and likewise a thread's): past it the oldest events are
   * dropped (see EVENTS_DROPPED). An event counts the bytes of its name and data plus
   * EVENT_OVERHEAD_BYTES.
   */
  maxLogBytes?: number;
  /**
   * Byte budget of all logs together: of this process in-process, where the oldest events of any
   * log are dropped first; of the Redis database in Redis, where the logs least recently
   * appended to are emptied first (down to their marker), never the ones being appended to.
   */
  maxTotalBytes?: number;
}

/**
 * A log's byte budget, unless configured: a 9 MB message streamed in four modes (about 94 MB of
 * events) keeps its last two thirds for replay, while a live reader still gets all of it.
 */
export const DEFAULT_LOG_BYTES = 64 * 1024 * 1024;
/** All in-process logs together, unless configured: three full logs, well under the memory of a small machine. */
export const DEFAULT_TOTAL_BYTES = 192 * 1024 * 1024;
/** What an event costs beyond its name and data (its id and bookkeeping), so that floods of tiny events count too. */
export const EVENT_OVERHEAD_BYTES = 64;

/**
 * The `error` event's `error` a reader gets first when the log no longer holds every event it
 * asked for (it started from the beginning, or resumed from an id the log has since dropped):
 * the event's id is that of the newest dropped event, so resuming from it goes on with what is
 * kept, and a reader that kept up never sees it. Dropping replay data never touches the run:
 * its outcome and state are in the database.
 */
export const EVENTS_DROPPED = "EventsDropped";

/** The marker in place of a log's dropped events up to and including `through`. */
export function droppedMarker(through: string): StreamEvent {
  return {
    id: through,
    event: "error",
    data: jsonBytes({
      error: EVENTS_DROPPED,
      message: `events up to ${through} were dropped to keep the stream's log within its byte budget; the events after it follow. The run's outcome and state are unaffected: read them from the run and its thread.`,
      dropped_through: through,
    }),
  };
}

/** Whether a reader asking for events after `after` missed some the log dropped (the newest being `droppedThrough`). */
const missed = (after: string, droppedThrough: string | undefined) =>
  droppedThrough !== undefined && (fromStart(after) || compareEventIds(after, droppedThrough) < 0);

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
 * event), keeps each log within its budgets, renews the thread log's expiry and announces both
 * logs once per batch (the logs are the messages; the announcements carry no event, so nothing
 * is encoded again). A log's budgets are a number of events and a number of bytes, counted in a
 * hash beside it (`bytes`, and `dropped`: the newest id dropped, where readers' marker points);
 * its oldest events go first, its newest never, so a reader that keeps up misses nothing.
 * With a total budget, every log's byte count is also kept in one hash (with their sum) and its
 * last append in a sorted set; past the total, the logs least recently appended to are emptied
 * (their hash keeps `dropped`, so a reader still gets the marker), a bounded number per append.
 * A log's stale entries (expired by retention) are the oldest, so they go first and correct the sum.
 * KEYS: the run's stream, its epoch key, the thread's stream, the run's and the thread's hash,
 * the sizes hash, the ages sorted set.
 * ARGV: epoch (0: unfenced), max length, thread retention seconds, run live channel, thread
 * live channel ("": no thread log, whose keys are then left alone), run id, max bytes, bytes per event beyond name and data, max total bytes (0:
 * none), then event and data of each event. Answers the run log's ids, or false when the epoch
 * is stale.
 */
const APPEND_EVENTS = `
local epoch = tonumber(ARGV[1])
if epoch > 0 then
  local current = tonumber(redis.call('GET', KEYS[2]) or '0')
  if epoch < current then return false end
  if epoch > current then redis.call('SET', KEYS[2], ARGV[1], 'EX', 604800) end
end
local maxLen = tonumber(ARGV[2])
local maxBytes = tonumber(ARGV[7])
local overhead = tonumber(ARGV[8])
local maxTotal = tonumber(ARGV[9])
local function fit(key, meta, added)
  local len = redis.call('XLEN', key)
  local bytes = added + tonumber(redis.call('HGET', meta, 'bytes') or '0')
  local dropped = false
  while len > 1 and (len > maxLen or bytes > maxBytes) do
    local gone = {}
    for _, entry in ipairs(redis.call('XRANGE', key, '-', '+', 'COUNT', 100)) do
      if len <= 1 or (len <= maxLen and bytes <= maxBytes) then break end
      local f = entry[2]
      bytes = bytes - overhead - #f[#f - 2] - #f[#f]
      len = len - 1
      gone[#gone + 1] = entry[1]
      dropped = entry[1]
    end
    if #gone == 0 then break end
    redis.call('XDEL', key, unpack(gone))
  end
  redis.call('HSET', meta, 'bytes', bytes)
  if dropped then redis.call('HSET', meta, 'dropped', dropped) end
end
local ids = {}
local added = 0
local withThread = ARGV[5] ~= ''
local runFresh = redis.call('XLEN', KEYS[1]) == 0
local threadFresh = withThread and redis.call('XLEN', KEYS[3]) == 0
for i = 10, #ARGV, 2 do
  local id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i], 'data', ARGV[i + 1])
  ids[#ids + 1] = id
  if withThread then
    redis.call('XADD', KEYS[3], '*', 'run_id', ARGV[6], 'id', id, 'event', ARGV[i], 'data', ARGV[i + 1])
  end
  added = added + overhead + #ARGV[i] + #ARGV[i + 1]
end
if #ids > 0 then
  -- A hash that outlived its log (evicted under maxmemory) describes nothing kept; one whose
  -- log the total budget emptied still marks what was dropped.
  if runFresh and redis.call('HGET', KEYS[4], 'emptied') ~= '1' then redis.call('DEL', KEYS[4]) end
  if threadFresh and redis.call('HGET', KEYS[5], 'emptied') ~= '1' then redis.call('DEL', KEYS[5]) end
  fit(KEYS[1], KEYS[4], added)
  if withThread then fit(KEYS[3], KEYS[5], added) end
  local logs = { { KEYS[1], KEYS[4] } }
  if withThread then logs[2] = { KEYS[3], KEYS[5] } end
  if maxTotal > 0 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    for _, pair in ipairs(logs) do
      local b = tonumber(redis.call('HGET', pair[2], 'bytes') or '0')
      local old = tonumber(redis.call('HGET', KEYS[6], pair[1]) or '0')
      redis.call('HSET', KEYS[6], pair[1], b)
      redis.call('HINCRBY', KEYS[6], '_total', b - old)
      redis.call('ZADD', KEYS[7], now, pair[1])
    end
    local total = tonumber(redis.call('HGET', KEYS[6], '_total') or '0')
    local passes = 0
    while total > maxTotal and passes < 64 do
      passes = passes + 1
      local oldest = redis.call('ZRANGE', KEYS[7], 0, 0)[1]
      if not oldest or oldest == KEYS[1] or oldest == KEYS[3] then break end
      local b = tonumber(redis.call('HGET', KEYS[6], oldest) or '0')
      local newest = redis.call('XREVRANGE', oldest, '+', '-', 'COUNT', 1)[1]
      if newest then
        local meta = oldest .. ':meta'
        local ttl = redis.call('PTTL', oldest)
        redis.call('HSET', meta, 'dropped', newest[1], 'bytes', 0, 'emptied', 1)
        if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
        redis.call('DEL', oldest)
      end
      redis.call('HDEL', KEYS[6], oldest)
      redis.call('ZREM', KEYS[7], oldest)
      redis.call('HINCRBY', KEYS[6], '_total', -b)
      total = total - b
    end
  end
  redis.call('PUBLISH', ARGV[4], ids[#ids])
  if withThread then
    redis.call('EXPIRE', KEYS[3], ARGV[3])
    redis.call('EXPIRE', KEYS[5], ARGV[3])
    redis.call('PUBLISH', ARGV[5], '1')
  end
end
return ids`;

/** Takes a dropped log out of the total. KEYS: the sizes hash, the ages sorted set, the log. */
const FORGET_LOG = `
local b = tonumber(redis.call('HGET', KEYS[1], KEYS[3]) or '0')
redis.call('HDEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], KEYS[3])
if b ~= 0 then redis.call('HINCRBY', KEYS[1], '_total', -b) end
return b`;

/**
 * A log after a start id (at most ARGV[2] entries, when given) and the newest id it dropped, read
 * in one step: an append may trim between two reads. A script that only reads, so that it still
 * answers when Redis is at its maxmemory (a MULTI is refused then, reads and all).
 * KEYS: the log, its hash. ARGV: the start id, the count (optional). Answers [dropped, entries].
 */
const READ_LOG = `
local dropped = redis.call('HGET', KEYS[2], 'dropped')
local entries
if ARGV[2] then
  entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+')
end
return { dropped, entries }`;

/** The Redis client with the scripts defined (sent once, then called by their SHA). */
type RedisWithAppend = Redis & {
  langopenAppendEvents(...args: Array<string | Buffer>): Promise<string[] | null>;
  langopenForgetLog(...keys: string[]): Promise<number>;
  /** READ_LOG answering bytes (ioredis's Buffer variant of a defined command): event data is never decoded. */
  langopenReadLogBuffer(...args: Array<string | number>): Promise<[Buffer | null, Array<[Buffer, Buffer[]]> | null]>;
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
  const maxBytes = options.maxLogBytes ?? DEFAULT_LOG_BYTES;
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_TOTAL_BYTES;
  const threadRetention = Math.max(1, Math.round(options.threadRetentionSeconds ?? DEFAULT_THREAD_RETENTION_SECONDS));
  const liveChannel = (runId: string) => `${keys.runEvents(runId)}:live`;
  /** Announces, once per append, that the thread's log grew (the log itself is the message). */
  const threadLiveChannel = (threadId: string) => `${keys.threadEvents(threadId)}:live`;
  /** A log's byte count and the newest id it dropped. */
  const metaOf = (log: string) => `${log}:meta`;
  if (!("langopenAppendEvents" in redis)) redis.defineCommand("langopenAppendEvents", { numberOfKeys: 7, lua: APPEND_EVENTS });
  if (!("langopenForgetLog" in redis)) redis.defineCommand("langopenForgetLog", { numberOfKeys: 3, lua: FORGET_LOG });
  if (!("langopenReadLog" in redis)) redis.defineCommand("langopenReadLog", { numberOfKeys: 2, lua: READ_LOG });
  const scripted = redis as RedisWithAppend;

  /** The log after `start` and the newest id it dropped, read at one instant (an append may trim between two reads). */
  const rangeWithDropped = async (log: string, start: string, count?: number) => {
    const [dropped, entries] = await (count === undefined
      ? scripted.langopenReadLogBuffer(log, metaOf(log), start)
      : scripted.langopenReadLogBuffer(log, metaOf(log), start, count));
    return { dropped: dropped?.toString(), entries: entries ?? [] };
  };

  const range = async (runId: string, after: string): Promise<StreamEvent[]> => {
    const { dropped, entries } = await rangeWithDropped(keys.runEvents(runId), fromStart(after) ? "-" : `(${after}`);
    const events = entries.map(([id, fields]) => ({
      id: id.toString(),
      event: fields[1]?.toString() ?? "",
      data: fields[3] ?? NULL_JSON_BYTES,
    }));
    return missed(after, dropped) ? [droppedMarker(dropped as string), ...events] : events;
  };

  const threadRange = async (threadId: string, after: string): Promise<ThreadStreamEvent[]> => {
    const start = fromStart(after) ? "-" : `(${after}`;
    const { dropped, entries } = await rangeWithDropped(keys.threadEvents(threadId), start, THREAD_PAGE);
    const events = entries.map(([id, fields]) => {
      const f = new Map<string, Buffer>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer);
      return {
        id: id.toString(),
        runId: f.get("run_id")?.toString() ?? "",
        event: f.get("event")?.toString() ?? "",
        data: f.get("data") ?? NULL_JSON_BYTES,
      };
    });
    return missed(after, dropped) ? [{ ...droppedMarker(dropped as string), runId: "" }, ...events] : events;
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
      const args: Array<string | Buffer> = [];
      // ioredis sends a Buffer as it is, but a plain Uint8Array as its text: a view, not a copy.
      for (const e of events) args.push(e.event, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      // Without a thread log, its keys name a log that no thread has (never touched).
      const threadLog = keys.threadEvents(threadId ?? "");
      const answer = await scripted.langopenAppendEvents(
        keys.runEvents(runId),
        `${keys.runEvents(runId)}:epoch`,
        threadLog,
        metaOf(keys.runEvents(runId)),
        metaOf(threadLog),
        keys.eventLogSizes,
        keys.eventLogAges,
        String(epoch ?? 0n),
        String(maxLen),
        String(threadRetention),
        liveChannel(runId),
        threadId === null ? "" : threadLiveChannel(threadId),
        runId,
        String(maxBytes),
        String(EVENT_OVERHEAD_BYTES),
        String(maxTotalBytes),
        ...args,
      );
      if (answer === null) throw new StaleEpochError(runId, epoch ?? 0n);
      return answer.map(String);
    },

    readEvents: (runId, after, blockMs, signal) => readLive(liveChannel(runId), () => range(runId, after), blockMs, signal),

    async expireEvents(runId, retentionSeconds) {
      const seconds = Math.max(1, Math.round(retentionSeconds));
      // Not in a MULTI: Redis at its maxmemory refuses every command queued in one, while it still
      // runs an EXPIRE on its own (which frees memory in the end).
      await Promise.all([redis.expire(keys.runEvents(runId), seconds), redis.expire(metaOf(keys.runEvents(runId)), seconds)]);
    },

    // Subscribed before reading, so that nothing appended after the read goes unnoticed.
    readThreadEvents: (threadId, after, blockMs, signal) =>
      readLive(threadLiveChannel(threadId), () => threadRange(threadId, after), blockMs, signal),

    async threadEventsTail(threadId) {
      const [newest] = await redis.xrevrange(keys.threadEvents(threadId), "+", "-", "COUNT", 1);
      return newest?.[0] ?? "0-0";
    },

    async dropThreadEvents(threadId) {
      await redis.del(keys.threadEvents(threadId), metaOf(keys.threadEvents(threadId)));
      await scripted.langopenForgetLog(keys.eventLogSizes, keys.eventLogAges, keys.threadEvents(threadId));
      // Wakes the thread's readers, which then find their thread gone.
      await redis.publish(threadLiveChannel(threadId), "0");
    },
  };
}

/** One event kept in this process: held by its run's log and its thread's, counted once in the total. */
interface Kept {
  id: string;
  runId: string;
  /** The thread whose log holds it too; null: none does. */
  threadId: string | null;
  event: string;
  data: Uint8Array;
  /** Its cost in bytes (name, data and EVENT_OVERHEAD_BYTES). */
  size: number;
  /** How many logs hold it: at 0 it leaves the total and its data is let go. */
  refs: number;
}

interface LocalLog {
  events: Kept[];
  bytes: number;
  /** The newest id this log dropped to keep within its budgets. */
  droppedThrough?: string;
}

/**
 * Data of its own for a kept event: a small event's bytes are often a view into a much larger
 * buffer (the received frame of several messages), which keeping the view would hold for as long
 * as the log (the budget counts only the view): copied when the view is under half its buffer.
 */
const owned = (data: Uint8Array): Uint8Array => (data.byteLength * 2 < data.buffer.byteLength ? data.slice() : data);

/** What the in-process logs hold: bytes counted as they are kept, once per event however many logs hold it. */
export interface EventLogUsage {
  bytes: number;
  events: number;
}

/**
 * Event logs in this process, for the one-machine mode: the same contract without Redis. Each
 * log keeps within its budgets (events, bytes) by dropping its oldest events; all logs together
 * keep within maxTotalBytes by dropping the oldest events of any log first. The newest event is
 * never dropped, so a reader that keeps up misses nothing; one that falls behind gets the marker.
 */
export function createLocalEventLogs(options: EventLogOptions = {}): EventLogs & { close(): void; usage(): EventLogUsage } {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const logs = new Map<string, LocalLog>();
  const epochs = new Map<string, bigint>();
  const timers = new Map<string, NodeJS.Timeout>();
  const maxEvents = options.maxEvents ?? 100_000;
  const maxLogBytes = options.maxLogBytes ?? DEFAULT_LOG_BYTES;
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_TOTAL_BYTES;
  const threadRetentionMs = (options.threadRetentionSeconds ?? DEFAULT_THREAD_RETENTION_SECONDS) * 1000;
  const threadLogs = new Map<string, LocalLog>();
  const threadTimers = new Map<string, NodeJS.Timeout>();
  /** Every kept event in id order (oldest first, from `oldest` on): what the total budget drops first. */
  let queue: Kept[] = [];
  let oldest = 0;
  let totalBytes = 0;
  let keptEvents = 0;
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

  const release = (kept: Kept) => {
    kept.refs -= 1;
    if (kept.refs > 0) return;
    totalBytes -= kept.size;
    keptEvents -= 1;
    // The queue may still hold it until its turn comes: it must not hold its data too.
    kept.data = NULL_JSON_BYTES;
  };
  const dropOldest = (log: LocalLog, count: number) => {
    const gone = count === 1 ? [log.events.shift() as Kept] : log.events.splice(0, count);
    for (const kept of gone) {
      log.bytes -= kept.size;
      release(kept);
    }
    log.droppedThrough = gone.at(-1)?.id ?? log.droppedThrough;
  };
  const fit = (log: LocalLog) => {
    let count = 0;
    let bytes = log.bytes;
    const left = () => log.events.length - count;
    while (left() > 1 && (left() > maxEvents || bytes > maxLogBytes)) {
      bytes -= (log.events[count] as Kept).size;
      count += 1;
    }
    if (count > 0) dropOldest(log, count);
  };
  const fitTotal = (newest: Kept | undefined) => {
    while (totalBytes > maxTotalBytes && oldest < queue.length) {
      const kept = queue[oldest] as Kept;
      if (kept === newest) break;
      oldest += 1;
      if (kept.refs === 0) continue;
      // Every older event has gone: this one leads each log that still holds it.
      const runLog = logs.get(kept.runId);
      if (runLog?.events[0] === kept) dropOldest(runLog, 1);
      const threadLog = kept.threadId === null ? undefined : threadLogs.get(kept.threadId);
      if (threadLog?.events[0] === kept) dropOldest(threadLog, 1);
    }
    // The queue sheds what it passed, and events that left every log by other ways (retention).
    if (oldest > 1_024 && oldest * 2 > queue.length) {
      queue = queue.slice(oldest);
      oldest = 0;
    }
    if (queue.length - oldest > 2 * keptEvents + 1_024) {
      queue = queue.slice(oldest).filter((kept) => kept.refs > 0);
      oldest = 0;
    }
  };
  const dropLog = (log: LocalLog | undefined) => {
    for (const kept of log?.events ?? []) release(kept);
  };

  const after = (runId: string, id: string): StreamEvent[] => {
    const log = logs.get(runId);
    if (!log) return [];
    const start = fromStart(id) ? 0 : log.events.findIndex((e) => compareEventIds(e.id, id) > 0);
    const events = (start < 0 ? [] : log.events.slice(start)).map(({ id, event, data }) => ({ id, event, data }));
    return missed(id, log.droppedThrough) ? [droppedMarker(log.droppedThrough as string), ...events] : events;
  };
  const threadAfter = (threadId: string, id: string): ThreadStreamEvent[] => {
    const log = threadLogs.get(threadId);
    if (!log) return [];
    const start = fromStart(id) ? 0 : log.events.findIndex((e) => compareEventIds(e.id, id) > 0);
    const events = (start < 0 ? [] : log.events.slice(start, start + THREAD_PAGE)).map(({ id, runId, event, data }) => ({
      id,
      runId,
      event,
      data,
    }));
    return missed(id, log.droppedThrough) ? [{ ...droppedMarker(log.droppedThrough as string), runId: "" }, ...events] : events;
  };
  const dropThread = (threadId: string) => {
    clearTimeout(threadTimers.get(threadId));
    threadTimers.delete(threadId);
    dropLog(threadLogs.get(threadId));
    threadLogs.delete(threadId);
  };

  return {
    async appendEvents(runId, threadId, events, epoch) {
      if (epoch !== undefined && epoch > 0n) {
        const current = epochs.get(runId) ?? 0n;
        if (epoch < current) throw new StaleEpochError(runId, epoch);
        epochs.set(runId, epoch);
      }
      if (events.length === 0) return [];
      const log = logs.get(runId) ?? { events: [], bytes: 0 };
      logs.set(runId, log);
      const threadLog = threadId === null ? undefined : (threadLogs.get(threadId) ?? { events: [], bytes: 0 });
      if (threadId !== null && threadLog) threadLogs.set(threadId, threadLog);
      // Ids grow across all logs here, so the run's id also orders the thread's log.
      let newest: Kept | undefined;
      const ids = events.map((e) => {
        const size = e.event.length + e.data.length + EVENT_OVERHEAD_BYTES;
        newest = { id: nextId(), runId, threadId, event: e.event, data: owned(e.data), size, refs: threadLog ? 2 : 1 };
        log.events.push(newest);
        log.bytes += size;
        if (threadLog) {
          threadLog.events.push(newest);
          threadLog.bytes += size;
        }
        queue.push(newest);
        totalBytes += size;
        keptEvents += 1;
        return newest.id;
      });
      fit(log);
      if (threadLog) fit(threadLog);
      fitTotal(newest);
      emitter.emit(`events:${runId}`);
      if (threadId === null) return ids;
      clearTimeout(threadTimers.get(threadId));
      const timer = setTimeout(() => dropThread(threadId), threadRetentionMs);
      timer.unref();
      threadTimers.set(threadId, timer);
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
        dropLog(logs.get(runId));
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
      return threadLogs.get(threadId)?.events.at(-1)?.id ?? "0-0";
    },
    async dropThreadEvents(threadId) {
      dropThread(threadId);
      emitter.emit(`thread:${threadId}`);
    },
    usage() {
      return { bytes: totalBytes, events: keptEvents };
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      for (const timer of threadTimers.values()) clearTimeout(timer);
      emitter.removeAllListeners();
    },
  };
}
