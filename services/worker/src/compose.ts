import { createClient } from "@connectrpc/connect";
import {
  createInProcessTransport,
  createReplicatedTransport,
  createRpcTransport,
  type Logger,
  type Registry,
  recordRoutes,
  registerPoolMetrics,
  runtimeCallerTokenOf,
  serverInterceptors,
  urlList,
} from "@langopen/common";
import {
  createCheckpointServiceImpl,
  createCheckpointStore,
  createCronStore,
  createItemStore,
  createPool,
  createRunLeaseStore,
  createThreadStore,
  createWebhookStore,
  type Signals,
} from "@langopen/data-plane";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { WORKER_DEFAULTS } from "./config.js";
import { createWorkerMetrics } from "./metrics.js";
import { type Scheduler, startScheduler } from "./scheduler.js";
import { startSweeper } from "./sweeper.js";
import { startWebhookDispatcher, type WebhookDispatcher, type WebhookDispatcherOptions } from "./webhooks.js";
import { startWorker, type Worker } from "./worker.js";

export interface WorkerServiceOptions {
  databaseUrl: string;
  signals: Signals;
  runtimeUrls: string[];
  concurrency?: number;
  /** WORKER_MAX_INFLIGHT_INPUT_BYTES. */
  maxInflightInputBytes?: number;
  leaseMs?: number;
  pollMs?: number;
  maxAttempts?: number;
  retentionSeconds?: number;
  /** Wall-clock seconds one attempt of a run may take (LANGOPEN_RUN_TIMEOUT_SECONDS). */
  runTimeoutSeconds?: number;
  /**
   * Why the runtime at one of `runtimeUrls` went away at or after `sinceMs`, when whoever
   * supervises it knows (the launcher): it words the failure of the runs that were on it.
   */
  runtimeExit?: (url: string, sinceMs: number) => { reason: string; outOfMemory: boolean } | undefined;
  poolSize?: number;
  /** Milliseconds between retention sweeps (expired threads and store items). */
  sweepIntervalMs?: number;
  /** The api-server's RPC URL, where due crons create their runs; absent: this worker fires no crons. */
  apiServerUrl?: string;
  /** Milliseconds between looks for due crons. */
  cronPollMs?: number;
  /** Webhook delivery: signing secret, allow-list, timeouts, retries. */
  webhooks?: WebhookDispatcherOptions;
  /** The installation's internal secret, sent on the calls to the runtimes and the api-server. */
  internalSecret?: string;
  /** Where the worker's metrics go (runs' waits and attempts, streams, webhooks, its pool); absent: none kept. */
  metrics?: Registry;
}

export interface WorkerService {
  readonly worker: Worker;
  /** Absent without an api-server URL. */
  readonly scheduler?: Scheduler;
  readonly webhooks: WebhookDispatcher;
  stop(graceMs: number): Promise<void>;
}

/** The composition root of a worker: its pool, the run store, runtime clients, the loops. */
export function startWorkerService(options: WorkerServiceOptions, logger: Logger): WorkerService {
  const pool = createPool(
    {
      connectionString: options.databaseUrl,
      max: options.poolSize ?? WORKER_DEFAULTS.DATABASE_POOL_SIZE,
      applicationName: "langopen-worker",
    },
    logger,
  );
  const metrics = options.metrics ? createWorkerMetrics(options.metrics) : undefined;
  if (options.metrics) registerPoolMetrics(options.metrics, "worker", pool);
  // The checkpoint calls of the runs this worker drives, answered here on the runs' own Execute
  // calls: the data plane's CheckpointService, served in this process on this worker's pool.
  const checkpoints = createClient(
    CheckpointService,
    createInProcessTransport({
      routes: recordRoutes((router) => {
        router.service(CheckpointService, createCheckpointServiceImpl({ checkpoints: createCheckpointStore(pool) }));
      }),
      interceptors: serverInterceptors(logger, undefined, options.metrics),
    }),
  );
  const worker = startWorker({
    runs: createRunLeaseStore(pool),
    checkpoints,
    signals: options.signals,
    runtimes: options.runtimeUrls.map((url) =>
      createClient(
        RuntimeService,
        createRpcTransport(url, {
          token: options.internalSecret && runtimeCallerTokenOf(options.internalSecret),
          peerMayBlock: true,
        }),
      ),
    ),
    logger,
    concurrency: options.concurrency ?? WORKER_DEFAULTS.WORKER_CONCURRENCY,
    maxInflightInputBytes: options.maxInflightInputBytes ?? WORKER_DEFAULTS.WORKER_MAX_INFLIGHT_INPUT_BYTES,
    leaseMs: options.leaseMs ?? WORKER_DEFAULTS.WORKER_LEASE_MS,
    pollMs: options.pollMs ?? WORKER_DEFAULTS.WORKER_POLL_MS,
    maxAttempts: options.maxAttempts ?? WORKER_DEFAULTS.WORKER_MAX_ATTEMPTS,
    retentionSeconds: options.retentionSeconds ?? WORKER_DEFAULTS.STREAM_RETENTION_SECONDS,
    metrics,
    runTimeoutMs: (options.runTimeoutSeconds ?? WORKER_DEFAULTS.LANGOPEN_RUN_TIMEOUT_SECONDS) * 1000,
    runtimeExit: options.runtimeExit
      ? (index, sinceMs) => options.runtimeExit?.(options.runtimeUrls[index] as string, sinceMs)
      : undefined,
  });
  const sweeper = startSweeper({
    threads: createThreadStore(pool),
    items: createItemStore(pool),
    signals: options.signals,
    logger,
    intervalMs: options.sweepIntervalMs ?? WORKER_DEFAULTS.SWEEP_INTERVAL_MS,
  });
  const scheduler = options.apiServerUrl
    ? startScheduler({
        crons: createCronStore(pool),
        runs: createClient(
          RunService,
          createReplicatedTransport(urlList(options.apiServerUrl), { token: options.internalSecret }),
        ),
        logger: logger.child({ component: "scheduler" }),
        pollMs: options.cronPollMs ?? WORKER_DEFAULTS.WORKER_CRON_POLL_MS,
      })
    : undefined;
  const webhooks = startWebhookDispatcher({
    ...options.webhooks,
    webhooks: createWebhookStore(pool),
    signals: options.signals,
    logger: logger.child({ component: "webhooks" }),
    metrics,
  });
  return {
    worker,
    scheduler,
    webhooks,
    async stop(graceMs) {
      await scheduler?.stop();
      await sweeper.stop();
      await worker.stop(graceMs);
      await webhooks.stop();
      await pool.end();
    },
  };
}
