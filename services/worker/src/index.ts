export { WorkerConfigSchema, type WorkerConfig } from "./config.js";
export { startWorkerService, type WorkerService, type WorkerServiceOptions } from "./compose.js";
export { startWorker, type Worker, type WorkerDeps } from "./worker.js";
