export { startWorkerService, type WorkerService, type WorkerServiceOptions } from "./compose.js";
export { WORKER_DEFAULTS, type WorkerConfig, WorkerConfigSchema } from "./config.js";
export { firingRequestId, type Scheduler, type SchedulerDeps, startScheduler } from "./scheduler.js";
export { type Sweeper, type SweeperDeps, type SweepResult, startSweeper, sweepOnce } from "./sweeper.js";
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
export { startWorker, type Worker, type WorkerDeps } from "./worker.js";
