import { Redis } from "ioredis";
import type { Logger } from "pino";

export type { Redis } from "ioredis";

/** Creates an ioredis client that retries forever and reports, rather than throws, lost connections. */
export function createRedis(url: string, logger: Logger, name: string): Redis {
  const client = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  let down = false;
  client.on("error", (err) => {
    if (!down) logger.warn({ err }, "Lost Redis connection");
    down = true;
  });
  client.on("ready", () => {
    if (down) logger.info("Reconnected to Redis");
    down = false;
  });
  return client;
}

/**
 * The one naming scheme for Redis keys: `<prefix>:<kind>:<id>`. Every key a service touches is
 * built here, so a deployment can share one Redis between installations by prefix.
 */
export function redisKeys(prefix = "langopen") {
  return {
    /** List of wake-up sentinels that workers block on. */
    wakeQueue: `${prefix}:queue:wake`,
    /** Set while a cancel of the run is pending; holds the action. */
    cancel: (runId: string) => `${prefix}:run:${runId}:cancel`,
    /** Pub/sub channel carrying cancel requests to the owning worker. */
    cancelChannel: `${prefix}:channel:cancel`,
    /** Stream of the run's events (ids become SSE ids). */
    runEvents: (runId: string) => `${prefix}:run:${runId}:events`,
    /** Stream of every event of every run on a thread. */
    threadEvents: (threadId: string) => `${prefix}:thread:${threadId}:events`,
    /** Hash of every event log's byte count (by log key), and their sum under `_total`. */
    eventLogSizes: `${prefix}:event-logs:sizes`,
    /** Sorted set of every event log by its last append (ms): the total budget drops the oldest first. */
    eventLogAges: `${prefix}:event-logs:ages`,
    /** Pub/sub channel announcing that a run ended. */
    runDoneChannel: `${prefix}:channel:run-done`,
    /** Pub/sub channel announcing that a webhook delivery was queued. */
    webhooksDueChannel: `${prefix}:channel:webhooks-due`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** True when an error means Redis cannot be reached (as ioredis reports it). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError") return true;
  return /Connection is closed|Stream isn't writeable|Reached the max retries per request|connect ECONNREFUSED .*:\d+/i.test(
    err.message,
  );
}
