import { BaseConfigSchema, UrlSchema } from "@langopen/common";
import { Type, type Static } from "typebox";

export const WorkerConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  DATABASE_URL: UrlSchema(["postgres", "postgresql"]),
  /** Absent: signals stay in this process (only useful when the api-server runs in it too). */
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** Comma-separated base URLs of runtime-runners. */
  RUNTIME_URLS: Type.String({ minLength: 1, default: "http://127.0.0.1:8125" }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  WORKER_LEASE_MS: Type.Integer({ minimum: 500, default: 15_000 }),
  WORKER_POLL_MS: Type.Integer({ minimum: 50, default: 1_000 }),
  WORKER_MAX_ATTEMPTS: Type.Integer({ minimum: 1, default: 3 }),
  /** Seconds a run's event log is kept after it ends. */
  STREAM_RETENTION_SECONDS: Type.Integer({ minimum: 1, default: 3_600 }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;
