import type { JsonObject } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  createIdleCollector,
  type Logger,
  type Registry,
  type RpcServer,
  readLanggraphConfig,
  registerPoolMetrics,
  STREAM_RELAY_COLLECTION,
  startRpcServer,
} from "@langopen/common";
import {
  createAssistantStore,
  createCheckpointServiceImpl,
  createCheckpointStore,
  createCronStore,
  createItemStore,
  createPool,
  createRunStore,
  createThreadStore,
  createWebhookStore,
  dataPlaneAuth,
  defaultAssistantId,
  fencedStoreWrites,
  grantingStateWrites,
  migrateDataPlane,
  type Signals,
} from "@langopen/data-plane";
import type { Health } from "@langopen/gen/health/v1/health_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { WebhookService } from "@langopen/gen/langopen/data/v1/webhook_service_pb";
import type { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { withCallers } from "./caller.js";
import { API_SERVER_DEFAULTS } from "./config.js";
import { watchDependencies } from "./dependency-health.js";
import { createAdmission } from "./domain/admission.js";
import { registerRunGauges } from "./metrics.js";
import { createAssistantServiceImpl } from "./rpc/assistant-service.js";
import { createCronServiceImpl } from "./rpc/cron-service.js";
import { createRunServiceImpl } from "./rpc/run-service.js";
import { createStoreServiceImpl } from "./rpc/store-service.js";
import { createThreadServiceImpl } from "./rpc/thread-service.js";
import { createThreadStateMethods } from "./rpc/thread-state.js";
import { createWebhookServiceImpl } from "./rpc/webhook-service.js";

export interface ApiServerOptions {
  databaseUrl: string;
  host: string;
  port: number;
  poolSize?: number;
  /** The graphs served: their ids get default assistants. */
  graphIds: string[];
  refreshTtlOnRead?: boolean;
  /** Limits of runs and crons (config.ts documents each); absent ones take their defaults. */
  limits?: Partial<ApiServerLimits>;
  /** Wake-ups, cancels and event logs (Redis, or in-process in the one-machine mode). */
  signals: Signals;
  /** The runtime that answers graph-aware questions (state, graphs, schemas). */
  runtime?: Client<typeof RuntimeService>;
  /** The runtime's health service, reported as a dependency (down when its graphs failed to load). */
  runtimeHealth?: Client<typeof Health>;
  /** The config and context of graphs' default assistants when first made (LANGGRAPH_CONFIG); none: empty. */
  defaultAssistants?: Record<string, { config: JsonObject; context: JsonObject }>;
  /** How many runtime-runners `runtimeHealth` reaches (round robin); default 1. */
  runtimeReplicas?: number;
  /**
   * The installation's internal secret: callers must send it (or the runtime's token, which may
   * only read and write checkpoints and store items, fenced), and it signs the grants of state
   * updates. Absent: every caller is trusted (tests that reach the port only from themselves).
   */
  internalSecret?: string;
  /** Where its metrics go (the queue's gauges, its pool, its RPCs); absent: none are kept. */
  metrics?: Registry;
  /**
   * Gives back, at the end of a run stream, what large streams left (past 128 MiB of growth, or
   * once idle): for a process of its own. Off where the api-server shares its process with a
   * worker, whose collector already watches the process.
   */
  collectAfterStreams?: boolean;
}

/** The limits the api-server applies to what callers ask (see config.ts). */
export interface ApiServerLimits {
  cronAllowSeconds: boolean;
  runMaxAfterSeconds: number;
  runMaxQueuedPerThread: number;
  runMaxPending: number;
  runBacklogRefreshMs: number;
}

export interface ApiServer {
  readonly rpc: RpcServer;
  /**
   * The graphs served changed (a runtime reloaded its project): new ones get their default
   * assistants, then runs are accepted on exactly these.
   */
  setGraphIds(graphIds: string[]): Promise<void>;
  /** Stops probing the dependencies (before they are stopped on purpose, so none is reported down). */
  stopDependencyChecks(): void;
  stop(graceMs?: number): Promise<void>;
}

/** The composition root of the api-server: migrations, pool, stores, RPC services, server. */
export async function startApiServer(options: ApiServerOptions, logger: Logger): Promise<ApiServer> {
  await migrateDataPlane(options.databaseUrl, logger);
  const pool = createPool(
    {
      connectionString: options.databaseUrl,
      max: options.poolSize ?? API_SERVER_DEFAULTS.DATABASE_POOL_SIZE,
      applicationName: "langopen-api-server",
    },
    logger,
  );
  if (options.metrics) registerPoolMetrics(options.metrics, "api-server", pool);
  const assistants = createAssistantStore(pool);
  const threads = createThreadStore(pool);
  const items = createItemStore(pool);
  const checkpoints = createCheckpointStore(pool);
  const limits: ApiServerLimits = {
    cronAllowSeconds: options.limits?.cronAllowSeconds ?? API_SERVER_DEFAULTS.LANGOPEN_CRON_ALLOW_SECONDS,
    runMaxAfterSeconds: options.limits?.runMaxAfterSeconds ?? API_SERVER_DEFAULTS.LANGOPEN_MAX_AFTER_SECONDS,
    runMaxQueuedPerThread: options.limits?.runMaxQueuedPerThread ?? API_SERVER_DEFAULTS.LANGOPEN_MAX_QUEUED_RUNS_PER_THREAD,
    runMaxPending: options.limits?.runMaxPending ?? API_SERVER_DEFAULTS.LANGOPEN_MAX_PENDING_RUNS,
    runBacklogRefreshMs: options.limits?.runBacklogRefreshMs ?? API_SERVER_DEFAULTS.LANGOPEN_PENDING_RUNS_REFRESH_MS,
  };
  const runs = createRunStore(pool, { maxQueuedPerThread: limits.runMaxQueuedPerThread });
  const admission = createAdmission({
    countRunnable: (atMost) => runs.countRunnable(atMost),
    maxPending: limits.runMaxPending,
    refreshMs: limits.runBacklogRefreshMs,
  });
  if (options.metrics) registerRunGauges(options.metrics, runs);
  const crons = createCronStore(pool);
  const webhooks = createWebhookStore(pool);
  const graphIds = new Set<string>();
  const setGraphIds = async (ids: string[]) => {
    for (const graphId of ids) {
      await assistants.create(defaultAssistantId(graphId), {
        graph_id: graphId,
        config: options.defaultAssistants?.[graphId]?.config ?? {},
        context: options.defaultAssistants?.[graphId]?.context ?? {},
        metadata: { created_by: "system" },
        name: graphId,
        description: null,
      });
    }
    graphIds.clear();
    for (const graphId of ids) graphIds.add(graphId);
  };
  await setGraphIds(options.graphIds);

  const services = [AssistantService, ThreadService, StoreService, RunService, CronService, CheckpointService, WebhookService];
  const secret = options.internalSecret;
  // State updates go to the runtime with a grant to write the thread's checkpoint.
  const runtime = options.runtime && secret !== undefined ? grantingStateWrites(options.runtime, secret) : options.runtime;
  const rpc = await startRpcServer({
    host: options.host,
    port: options.port,
    logger,
    services,
    auth: secret === undefined ? undefined : dataPlaneAuth(secret),
    inProcessToken: secret,
    metrics: options.metrics,
    // The services of the resources act for the caller each call names (caller.ts).
    routes: (router) => {
      router.service(
        AssistantService,
        withCallers(AssistantService, createAssistantServiceImpl({ assistants, graphIds: () => graphIds, runtime })),
      );
      router.service(
        ThreadService,
        withCallers(
          ThreadService,
          createThreadServiceImpl({
            threads,
            runs,
            signals: options.signals,
            state: createThreadStateMethods({ pool, threads, runs, runtime }),
          }),
        ),
      );
      router.service(
        StoreService,
        withCallers(
          StoreService,
          // Writes carrying a run's fence are made while the run holds it (in a transaction of their own).
          fencedStoreWrites({
            pool,
            items,
            service: (on) =>
              createStoreServiceImpl({
                items: on,
                refreshTtlOnRead: options.refreshTtlOnRead ?? API_SERVER_DEFAULTS.STORE_REFRESH_TTL_ON_READ,
              }),
          }),
        ),
      );
      router.service(
        RunService,
        withCallers(
          RunService,
          createRunServiceImpl({
            runs,
            assistants,
            graphIds: () => graphIds,
            signals: options.signals,
            logger,
            maxAfterSeconds: limits.runMaxAfterSeconds,
            admission,
            collector: options.collectAfterStreams ? createIdleCollector({ logger, ...STREAM_RELAY_COLLECTION }) : undefined,
          }),
        ),
      );
      router.service(
        CronService,
        withCallers(
          CronService,
          createCronServiceImpl({ crons, assistants, threads, graphIds: () => graphIds, allowSeconds: limits.cronAllowSeconds }),
        ),
      );
      router.service(WebhookService, withCallers(WebhookService, createWebhookServiceImpl({ webhooks })));
      router.service(CheckpointService, createCheckpointServiceImpl({ checkpoints, internalSecret: secret }));
    },
  });

  const stopWatching = watchDependencies({
    health: rpc.health,
    pool,
    signals: options.signals,
    runtime: options.runtimeHealth,
    runtimeReplicas: options.runtimeReplicas,
    logger,
    metrics: options.metrics,
  });

  return {
    rpc,
    setGraphIds,
    stopDependencyChecks: stopWatching,
    async stop(graceMs) {
      stopWatching();
      await rpc.close(graceMs);
      await pool.end();
    },
  };
}

/** Graph ids of a langgraph.json, or none. */
export async function graphIdsOf(configPath: string | undefined): Promise<string[]> {
  return configPath ? Object.keys((await readLanggraphConfig(configPath)).graphs) : [];
}
