import { BaseConfigSchema, InternalSecretConfigSchema } from "@langopen/common";
import { GatewayConfigSchema } from "@langopen/gateway";
import { WorkerConfigSchema } from "@langopen/worker";
import { type Static, Type } from "typebox";

const gateway = GatewayConfigSchema.properties;
const worker = WorkerConfigSchema.properties;

/**
 * `npm start`: the whole data plane on one machine. Composed of the services' own variables
 * (same names, bounds and defaults as when each runs on its own), so each is declared once.
 */
export const LauncherConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** Absent: the secret in LANGOPEN_DATA_DIR/internal-secret, made at the first start. */
  ...InternalSecretConfigSchema.properties,
  PORT: gateway.PORT,
  HOST: gateway.HOST,
  BODY_LIMIT_BYTES: gateway.BODY_LIMIT_BYTES,
  LANGOPEN_API_KEYS: gateway.LANGOPEN_API_KEYS,
  LANGOPEN_API_KEYS_FILE: gateway.LANGOPEN_API_KEYS_FILE,
  LANGOPEN_ALLOWED_HOSTS: gateway.LANGOPEN_ALLOWED_HOSTS,
  LANGOPEN_ALLOW_UNAUTHENTICATED: gateway.LANGOPEN_ALLOW_UNAUTHENTICATED,
  LANGOPEN_PUBLIC_URL: gateway.LANGOPEN_PUBLIC_URL,
  /** Absent: an embedded Postgres under LANGOPEN_DATA_DIR. */
  DATABASE_URL: Type.Optional(worker.DATABASE_URL),
  /** Absent: signalling stays in-process. */
  REDIS_URL: worker.REDIS_URL,
  /** Absent: ./langgraph.json when present, else the example project. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  LANGOPEN_DATA_DIR: Type.String({ default: ".langopen" }),
  WORKER_CONCURRENCY: worker.WORKER_CONCURRENCY,
  STREAM_RETENTION_SECONDS: worker.STREAM_RETENTION_SECONDS,
  WORKER_CRON_POLL_MS: worker.WORKER_CRON_POLL_MS,
  WEBHOOK_SECRET: worker.WEBHOOK_SECRET,
  WEBHOOK_ALLOWED_HOSTS: worker.WEBHOOK_ALLOWED_HOSTS,
  WEBHOOK_TIMEOUT_MS: worker.WEBHOOK_TIMEOUT_MS,
  WEBHOOK_MAX_ATTEMPTS: worker.WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_BACKOFF_MS: worker.WEBHOOK_BACKOFF_MS,
});

export type LauncherConfig = Static<typeof LauncherConfigSchema>;
