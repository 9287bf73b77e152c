import {
  BaseConfigSchema,
  configDefaults,
  InternalSecretConfigSchema,
  MetricsConfigSchema,
  PortSchema,
  UrlListSchema,
  UrlSchema,
} from "@langopen/common";
import { DEFAULT_LOG_BYTES, DEFAULT_TOTAL_BYTES, type EventLogOptions } from "@langopen/data-plane";
import { type Static, Type } from "typebox";

export const ApiServerConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  ...MetricsConfigSchema.properties,
  /** Required (one of them): callers must send the secret, the runtime its token derived from it. */
  ...InternalSecretConfigSchema.properties,
  DATABASE_URL: UrlSchema(["postgres", "postgresql"]),
  /** Absent: signals stay in this process (only useful when the worker runs in it too). */
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** The runtime-runner answering graph-aware questions. */
  RUNTIME_URL: Type.Optional(UrlListSchema()),
  RPC_HOST: Type.String({ default: "127.0.0.1" }),
  RPC_PORT: PortSchema(8124),
  /** The langgraph.json whose graphs get default assistants. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * The config (and `context`) of each graph's default assistant when first made, as JSON from
   * graph id to config, as the upstream server reads it; absent: the project's `env` may set it.
   */
  LANGGRAPH_CONFIG: Type.Optional(Type.String()),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  STORE_REFRESH_TTL_ON_READ: Type.Boolean({ default: true }),
  /**
   * Whether cron schedules may have a seconds field (6 fields). Off: minute granularity, as a
   * crontab's; a cron firing every second would create a run per second for as long as it lives.
   */
  LANGOPEN_CRON_ALLOW_SECONDS: Type.Boolean({ default: false }),
  /**
   * The longest a run may be delayed (after_seconds); beyond it a create is refused (422). A week:
   * longer waits are what crons are for, and a run delayed for years would hold its thread's
   * queue as long.
   */
  LANGOPEN_MAX_AFTER_SECONDS: Type.Number({ minimum: 0, default: 604_800 }),
  /**
   * The most runs that may wait (pending) on one thread; a create beyond it is refused with 429
   * and Retry-After until some have run. 0: no limit. A thread runs one run at a time, so a
   * hundred waiting already means minutes of work queued behind one conversation.
   */
  LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD: Type.Integer({ minimum: 0, default: 100 }),
  /**
   * The backlog of runnable runs (pending and due, all threads) past which new runs are refused
   * with 429 and Retry-After, instead of piling up. 0: no limit. Compared with a count refreshed
   * at most every LANGOPEN_PENDING_RUNS_REFRESH_MS (plus this process's creates since), so it may be
   * overshot by the runs created meanwhile by other api-servers.
   */
  LANGOPEN_MAX_PENDING_RUNS: Type.Integer({ minimum: 0, default: 10_000 }),
  /** How stale the backlog count that LANGOPEN_MAX_PENDING_RUNS is compared with may be. */
  LANGOPEN_PENDING_RUNS_REFRESH_MS: Type.Integer({ minimum: 10, default: 1_000 }),
  /**
   * Bytes one event log (a run's, and a thread's) may hold, the oldest events dropped first. The
   * api-server appends too (the end of a run cancelled before a worker took it) and every append
   * trims the logs it touches to the budget it is given: set it as the workers' is set.
   */
  LANGOPEN_EVENT_LOG_RUN_BYTES: Type.Integer({ minimum: 1_024, default: DEFAULT_LOG_BYTES }),
  /**
   * Bytes all event logs may hold together (in Redis, or in this process without REDIS_URL), the
   * logs least recently appended to emptied first. As the workers' setting: an append with a
   * smaller total would empty logs the workers still keep.
   */
  LANGOPEN_EVENT_LOG_TOTAL_BYTES: Type.Integer({ minimum: 1_024, default: DEFAULT_TOTAL_BYTES }),
});

export type ApiServerConfig = Static<typeof ApiServerConfigSchema>;

/** The defaults declared above, for callers that pass options in code (the launcher, tests). */
export const API_SERVER_DEFAULTS = configDefaults(ApiServerConfigSchema);

/** The settings of the limits startApiServer applies. */
type LimitSettings =
  | "LANGOPEN_CRON_ALLOW_SECONDS"
  | "LANGOPEN_MAX_AFTER_SECONDS"
  | "LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD"
  | "LANGOPEN_MAX_PENDING_RUNS"
  | "LANGOPEN_PENDING_RUNS_REFRESH_MS";

/** The limits of a configuration, as startApiServer takes them (the launcher passes the same). */
export function apiServerLimits(config: Pick<ApiServerConfig, LimitSettings>) {
  return {
    cronAllowSeconds: config.LANGOPEN_CRON_ALLOW_SECONDS,
    runMaxAfterSeconds: config.LANGOPEN_MAX_AFTER_SECONDS,
    runMaxQueuedPerThread: config.LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD,
    runMaxPending: config.LANGOPEN_MAX_PENDING_RUNS,
    runBacklogRefreshMs: config.LANGOPEN_PENDING_RUNS_REFRESH_MS,
  };
}

/** The event log budgets of a configuration, as the signals take them. */
export function eventLogBudgets(
  config: Pick<ApiServerConfig, "LANGOPEN_EVENT_LOG_RUN_BYTES" | "LANGOPEN_EVENT_LOG_TOTAL_BYTES">,
): Pick<EventLogOptions, "maxLogBytes" | "maxTotalBytes"> {
  return { maxLogBytes: config.LANGOPEN_EVENT_LOG_RUN_BYTES, maxTotalBytes: config.LANGOPEN_EVENT_LOG_TOTAL_BYTES };
}
