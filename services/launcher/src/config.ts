import { BaseConfigSchema, PortSchema, UrlSchema } from "@langopen/common";
import { Type, type Static } from "typebox";

/** `npm start`: the whole data plane on one machine. */
export const LauncherConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  PORT: PortSchema(8123),
  HOST: Type.String({ default: "127.0.0.1" }),
  /** Absent: an embedded Postgres under LANGOPEN_DATA_DIR. */
  DATABASE_URL: Type.Optional(UrlSchema(["postgres", "postgresql"])),
  /** Absent: signalling stays in-process. */
  REDIS_URL: Type.Optional(UrlSchema(["redis", "rediss"])),
  /** Absent: ./langgraph.json when present, else the example project. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  LANGOPEN_DATA_DIR: Type.String({ default: ".langopen" }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /** Seconds a run's event log is kept after it ends. */
  STREAM_RETENTION_SECONDS: Type.Integer({ minimum: 1, default: 3_600 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 10 * 1024 * 1024 }),
  /** Milliseconds between looks for due crons. */
  WORKER_CRON_POLL_MS: Type.Integer({ minimum: 50, default: 1_000 }),
  /** Signs webhook bodies (header X-Langopen-Signature); absent: unsigned. */
  WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated host or host:port entries webhooks may reach although private or loopback. */
  WEBHOOK_ALLOWED_HOSTS: Type.String({ default: "" }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  /** The first retry's delay; it doubles per attempt, with jitter. */
  WEBHOOK_BACKOFF_MS: Type.Integer({ minimum: 1, default: 2_000 }),
});

export type LauncherConfig = Static<typeof LauncherConfigSchema>;
