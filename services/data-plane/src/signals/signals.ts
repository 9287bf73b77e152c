import { type Logger, type Redis, redisKeys } from "@langopen/common";
import {
  createLocalEventLogs,
  createRedisEventLogs,
  type EventLogOptions,
  type EventLogs,
  type EventLogUsage,
} from "./event-logs.js";
import { createLocalNotices, createRedisNotices, type Notices } from "./notices.js";
import { createRedisChannels } from "./redis-channels.js";
import { createLocalWakeUps, createRedisWakeUps, type WakeUps } from "./wake-ups.js";

/**
 * Everything the data plane signals outside Postgres, by concern: wake-ups for workers, notices
 * (cancels, run ends, webhook deliveries) and the event logs. Postgres holds the truth; losing
 * these loses no run. Components depend on the concern they use (WakeUps, Notices, EventLogs);
 * the composition roots build one Signals and hand it to them. One implementation speaks Redis;
 * the other keeps it in-process for the one-machine mode with nothing else installed. Both are held
 * to one contract suite (signals.contract.test.ts).
 */
export interface Signals extends WakeUps, Notices, EventLogs {
  /** Whether the underlying transport is reachable. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export interface RedisSignalsOptions extends EventLogOptions {
  /** The main connection; blocking calls and subscriptions use duplicates of it. */
  redis: Redis;
  logger: Logger;
  /** Prefix of every key and channel, so installations can share one Redis. */
  prefix?: string;
}

/** Signals over Redis: a list for wake-ups, pub/sub for notices, a stream per run and per thread. */
export function createRedisSignals(options: RedisSignalsOptions): Signals {
  const { redis, logger } = options;
  const keys = redisKeys(options.prefix);
  const channels = createRedisChannels(redis, logger);
  const wakeUps = createRedisWakeUps(redis, keys, logger);
  return {
    ...wakeUps,
    ...createRedisNotices(redis, keys, channels),
    ...createRedisEventLogs(redis, keys, channels, options),
    async healthy() {
      try {
        return (await redis.ping()) === "PONG";
      } catch {
        return false;
      }
    },
    async close() {
      channels.close();
      wakeUps.close();
    },
  };
}

/** Signals kept in this process, for the one-machine mode: the same contract without Redis. */
export function createLocalSignals(options: EventLogOptions = {}): Signals & { usage(): EventLogUsage } {
  const wakeUps = createLocalWakeUps();
  const notices = createLocalNotices();
  const eventLogs = createLocalEventLogs(options);
  return {
    ...wakeUps,
    ...notices,
    ...eventLogs,
    async healthy() {
      return true;
    },
    async close() {
      wakeUps.close();
      notices.close();
      eventLogs.close();
    },
  };
}
