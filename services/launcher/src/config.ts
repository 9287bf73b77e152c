import { ApiServerConfigSchema } from "@langopen/api-server";
import { BaseConfigSchema, InternalSecretConfigSchema } from "@langopen/common";
import { GatewayConfigSchema } from "@langopen/gateway";
import { RuntimeConfigSchema } from "@langopen/runtime-runner/config";
import { WorkerConfigSchema } from "@langopen/worker";
import { type Static, Type } from "typebox";

const gateway = GatewayConfigSchema.properties;
const worker = WorkerConfigSchema.properties;
const apiServer = ApiServerConfigSchema.properties;
const runtime = RuntimeConfigSchema.properties;

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
  LANGOPEN_CUSTOM_ROUTE_HEAD_TIMEOUT_MS: gateway.LANGOPEN_CUSTOM_ROUTE_HEAD_TIMEOUT_MS,
  LANGOPEN_JSON_MAX_DEPTH: gateway.LANGOPEN_JSON_MAX_DEPTH,
  LANGOPEN_JSON_MAX_ITEMS: gateway.LANGOPEN_JSON_MAX_ITEMS,
  LANGOPEN_JSON_MAX_OBJECT_KEYS: gateway.LANGOPEN_JSON_MAX_OBJECT_KEYS,
  LANGOPEN_MCP_MAX_BATCH: gateway.LANGOPEN_MCP_MAX_BATCH,
  LANGOPEN_API_KEYS: gateway.LANGOPEN_API_KEYS,
  LANGOPEN_API_KEYS_FILE: gateway.LANGOPEN_API_KEYS_FILE,
  LANGOPEN_OIDC_ISSUER: gateway.LANGOPEN_OIDC_ISSUER,
  LANGOPEN_OIDC_CLIENT_ID: gateway.LANGOPEN_OIDC_CLIENT_ID,
  LANGOPEN_OIDC_AUDIENCE: gateway.LANGOPEN_OIDC_AUDIENCE,
  LANGOPEN_OIDC_PERMISSIONS_CLAIM: gateway.LANGOPEN_OIDC_PERMISSIONS_CLAIM,
  LANGOPEN_ALLOWED_HOSTS: gateway.LANGOPEN_ALLOWED_HOSTS,
  LANGOPEN_ALLOW_UNAUTHENTICATED: gateway.LANGOPEN_ALLOW_UNAUTHENTICATED,
  LANGOPEN_PUBLIC_URL: gateway.LANGOPEN_PUBLIC_URL,
  LANGOPEN_CONTROL_URL: gateway.LANGOPEN_CONTROL_URL,
  LANGOPEN_DEPLOYMENT_ID: gateway.LANGOPEN_DEPLOYMENT_ID,
  /**
   * A signed revision bundle (a control plane's build) to serve instead of a project folder: it is
   * verified (digest and signature) and extracted into LANGOPEN_DATA_DIR/bundle before anything of
   * it loads; LANGOPEN_CONFIG is then the langgraph.json inside it. Needs the public key below.
   */
  LANGOPEN_BUNDLE: Type.Optional(Type.String({ minLength: 1 })),
  /** The digest the bundle must have (`sha256:<hex>`): the revision's. */
  LANGOPEN_BUNDLE_DIGEST: Type.Optional(Type.String({ pattern: "^sha256:[0-9a-f]{64}$" })),
  /** The platform's public key (PEM) that bundles must be signed with. */
  LANGOPEN_BUNDLE_PUBLIC_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Absent: an embedded Postgres under LANGOPEN_DATA_DIR. */
  DATABASE_URL: Type.Optional(worker.DATABASE_URL),
  /** Absent: signalling stays in-process. */
  REDIS_URL: worker.REDIS_URL,
  /** Absent: ./langgraph.json when present, else the example project. */
  LANGOPEN_CONFIG: Type.Optional(Type.String({ minLength: 1 })),
  LANGOPEN_DATA_DIR: Type.String({ default: ".langopen" }),
  /**
   * The config (and `context`) of each graph's default assistant when first made, as JSON from
   * graph id to config, as the upstream server reads it; absent: the project's `env` may set it.
   */
  LANGGRAPH_CONFIG: Type.Optional(Type.String()),
  WORKER_CONCURRENCY: worker.WORKER_CONCURRENCY,
  WORKER_MAX_INFLIGHT_INPUT_BYTES: worker.WORKER_MAX_INFLIGHT_INPUT_BYTES,
  LANGOPEN_CRON_ALLOW_SECONDS: apiServer.LANGOPEN_CRON_ALLOW_SECONDS,
  LANGOPEN_MAX_AFTER_SECONDS: apiServer.LANGOPEN_MAX_AFTER_SECONDS,
  LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD: apiServer.LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD,
  LANGOPEN_MAX_PENDING_RUNS: apiServer.LANGOPEN_MAX_PENDING_RUNS,
  LANGOPEN_PENDING_RUNS_REFRESH_MS: apiServer.LANGOPEN_PENDING_RUNS_REFRESH_MS,
  LANGOPEN_RUN_TIMEOUT_SECONDS: worker.LANGOPEN_RUN_TIMEOUT_SECONDS,
  /**
   * How many runtime processes run the graphs (runs go to the least busy, so a CPU-bound run
   * holds up only those sharing its process). Absent: one per core, at least 2, at most 4.
   */
  LANGOPEN_RUNTIME_PROCESSES: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  /**
   * Each runtime process's V8 heap limit in MB (--max-old-space-size). A run that allocates past
   * it takes its process down: the process is replaced and the run ends `error` (RuntimeOutOfMemory).
   * 1024: generous for agent state, and a runaway graph cannot take the machine's memory.
   */
  LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB: Type.Integer({ minimum: 64, maximum: 65_536, default: 1_024 }),
  /**
   * Each runtime process's memory in MB, heap and off-heap together (its data segment, RLIMIT_DATA):
   * buffers graph code allocates do not count against the heap limit above. Past it an allocation
   * fails: a Buffer's throws in graph code, V8's ends the process (replaced; the run ends `error`).
   * 2048: the heap limit and as much again for buffers; 0: no limit.
   */
  LANGOPEN_RUNTIME_MAX_MEMORY_MB: runtime.LANGOPEN_RUNTIME_MAX_MEMORY_MB,
  LANGOPEN_SANDBOX: runtime.LANGOPEN_SANDBOX,
  LANGOPEN_SANDBOX_UID: runtime.LANGOPEN_SANDBOX_UID,
  LANGOPEN_SANDBOX_GID: runtime.LANGOPEN_SANDBOX_GID,
  LANGOPEN_TYPED_SCHEMAS: runtime.LANGOPEN_TYPED_SCHEMAS,
  STREAM_RETENTION_SECONDS: worker.STREAM_RETENTION_SECONDS,
  LANGOPEN_EVENT_LOG_RUN_BYTES: worker.LANGOPEN_EVENT_LOG_RUN_BYTES,
  LANGOPEN_EVENT_LOG_TOTAL_BYTES: worker.LANGOPEN_EVENT_LOG_TOTAL_BYTES,
  WORKER_CRON_POLL_MS: worker.WORKER_CRON_POLL_MS,
  WEBHOOK_SECRET: worker.WEBHOOK_SECRET,
  WEBHOOK_ALLOWED_HOSTS: worker.WEBHOOK_ALLOWED_HOSTS,
  WEBHOOK_TIMEOUT_MS: worker.WEBHOOK_TIMEOUT_MS,
  WEBHOOK_MAX_ATTEMPTS: worker.WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_BACKOFF_MS: worker.WEBHOOK_BACKOFF_MS,
});

export type LauncherConfig = Static<typeof LauncherConfigSchema>;
