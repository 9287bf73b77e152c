import {
  BaseConfigSchema,
  configDefaults,
  InternalSecretConfigSchema,
  MetricsConfigSchema,
  UrlListSchema,
  UrlSchema,
} from "@langopen/common";
import { type Static, Type } from "typebox";

export const WorkerConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  ...MetricsConfigSchema.properties,
  /** Required (one of them): sent on the calls to the runtimes and the api-servers. */
  ...InternalSecretConfigSchema.properties,
  DATABASE_URL: UrlSchema(["postgres", "postgresql"]),
  /** Absent: signals stay in this process (only useful when the api-server runs in it too). */
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** Comma-separated base URLs of runtime-runners. */
  RUNTIME_URLS: Type.String({ minLength: 1, default: "http://127.0.0.1:8125" }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /**
   * Bytes of run specs (input, config, metadata) this worker runs at once; a run that would go
   * past it waits in the queue until enough runs ended (one run alone always starts, whatever its
   * size). A run's memory on its runtime, worker and event log is many times its input (its state
   * in every stream mode and checkpoint): 16 MiB lets one 10 MB input run with small ones beside
   * it, not three at once.
   */
  WORKER_MAX_INFLIGHT_INPUT_BYTES: Type.Integer({ minimum: 1_024, default: 16 * 1024 * 1024 }),
  WORKER_LEASE_MS: Type.Integer({ minimum: 500, default: 15_000 }),
  WORKER_POLL_MS: Type.Integer({ minimum: 50, default: 1_000 }),
  WORKER_MAX_ATTEMPTS: Type.Integer({ minimum: 1, default: 3 }),
  /**
   * Wall-clock seconds one attempt of a run may take; past it the run ends `timeout` (an `error`
   * event TimeoutError on its stream). An hour, as upstream's BG_JOB_TIMEOUT_SECS: long agent
   * runs fit, a run stuck for good does not hold a slot (and its runtime process) forever.
   */
  LANGOPEN_RUN_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3_600, default: 3_600 }),
  /** Seconds a run's event log is kept after it ends. */
  STREAM_RETENTION_SECONDS: Type.Integer({ minimum: 1, default: 3_600 }),
  /**
   * Bytes one event log (a run's, and a thread's) may hold; past it its oldest events are dropped
   * and a reader that resumes before them is told so (an `error` event EventsDropped). 64 MiB: a
   * run streaming a 9 MB state in four modes is about 94 MB of events; live readers get them all.
   */
  LANGOPEN_EVENT_LOG_RUN_BYTES: Type.Integer({ minimum: 1_024, default: 64 * 1024 * 1024 }),
  /**
   * Bytes all event logs may hold together, in this process (without REDIS_URL) or in Redis, the
   * oldest dropped first. 192 MiB: three full run logs in one process (in Redis a run's events
   * count twice, in its log and its thread's), well within a small machine (see README).
   */
  LANGOPEN_EVENT_LOG_TOTAL_BYTES: Type.Integer({ minimum: 1_024, default: 192 * 1024 * 1024 }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  /** Milliseconds between retention sweeps: expired threads (TTL) and store items. */
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 1_000, default: 60_000 }),
  /** The api-servers' RPC URLs, comma-separated: due crons create their runs there. */
  API_SERVER_URL: Type.String({ ...UrlListSchema(), default: "http://127.0.0.1:8124" }),
  /** Milliseconds between looks for due crons. */
  WORKER_CRON_POLL_MS: Type.Integer({ minimum: 50, default: 1_000 }),
  /** Signs webhook bodies: X-Langopen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">. */
  WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated host or host:port entries that webhooks may reach although private or loopback. */
  WEBHOOK_ALLOWED_HOSTS: Type.String({ default: "" }),
  /** Where the installation's public API (a gateway) answers: webhooks given as a path (`/hooks/x`) go there. */
  LANGOPEN_GATEWAY_URL: Type.Optional(Type.String({ minLength: 1 })),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  /** The first retry's delay; it doubles per attempt, with jitter. */
  WEBHOOK_BACKOFF_MS: Type.Integer({ minimum: 1, default: 2_000 }),
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;

/** The defaults declared above, for callers that pass options in code (the launcher, tests). */
export const WORKER_DEFAULTS = configDefaults(WorkerConfigSchema);
