import { createClient } from "@connectrpc/connect";
import { createRunStore } from "@langopen/api-server";
import { createPool, createRpcTransport, type Logger, type Signals } from "@langopen/common";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { startWorker, type Worker } from "./worker.js";

export interface WorkerServiceOptions {
  databaseUrl: string;
  signals: Signals;
  runtimeUrls: string[];
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  maxAttempts?: number;
  retentionSeconds?: number;
  poolSize?: number;
}

export interface WorkerService {
  readonly worker: Worker;
  stop(graceMs: number): Promise<void>;
}

/** The composition root of a worker: its pool, the run store, runtime clients, the loops. */
export function startWorkerService(options: WorkerServiceOptions, logger: Logger): WorkerService {
  const pool = createPool(
    { connectionString: options.databaseUrl, max: options.poolSize ?? 10, applicationName: "langopen-worker" },
    logger,
  );
  const worker = startWorker({
    runs: createRunStore(pool),
    signals: options.signals,
    runtimes: options.runtimeUrls.map((url) => createClient(RuntimeService, createRpcTransport(url))),
    logger,
    concurrency: options.concurrency ?? 10,
    leaseMs: options.leaseMs ?? 15_000,
    pollMs: options.pollMs ?? 1_000,
    maxAttempts: options.maxAttempts ?? 3,
    retentionSeconds: options.retentionSeconds ?? 3_600,
  });
  return {
    worker,
    async stop(graceMs) {
      await worker.stop(graceMs);
      await pool.end();
    },
  };
}
