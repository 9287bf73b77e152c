export { WORKER_DEFAULTS, WorkerConfigSchema, type WorkerConfig } from "./config.js";
export { startWorkerService, type WorkerService, type WorkerServiceOptions } from "./compose.js";
export { startWorker, type Worker, type WorkerDeps } from "./worker.js";
export { startSweeper, sweepOnce, type Sweeper, type SweeperDeps, type SweepResult } from "./sweeper.js";
export { firingRequestId, startScheduler, type Scheduler, type SchedulerDeps } from "./scheduler.js";
export {
  isNonPublicAddress,
  parseAllowedHosts,
  RefusedTargetError,
  SIGNATURE_HEADER,
  signBody,
  startWebhookDispatcher,
  vetTarget,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from "./webhooks.js";
