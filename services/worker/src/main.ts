// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import {
  createLogger,
  createMetricsRegistry,
  createRedis,
  loadConfig,
  registerRedisMetrics,
  requireInternalSecret,
  runMain,
  serveMetrics,
  stopOnSignals,
} from "@langopen/common";
import { createLocalSignals, createRedisSignals } from "@langopen/data-plane";
import { startWorkerService } from "./compose.js";
import { WorkerConfigSchema } from "./config.js";

async function main(): Promise<void> {
  const config = loadConfig(WorkerConfigSchema, process.env);
  const logger = createLogger({ service: "worker", level: config.LOG_LEVEL });
  const internalSecret = await requireInternalSecret(config, "worker");
  const metrics = createMetricsRegistry();
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL, logger, "worker") : undefined;
  if (redis) registerRedisMetrics(metrics, "worker", redis);
  const budgets = { maxLogBytes: config.LANGOPEN_EVENT_LOG_RUN_BYTES, maxTotalBytes: config.LANGOPEN_EVENT_LOG_TOTAL_BYTES };
  const signals = redis ? createRedisSignals({ redis, logger, ...budgets }) : createLocalSignals(budgets);
  const service = startWorkerService(
    {
      databaseUrl: config.DATABASE_URL,
      signals,
      runtimeUrls: config.RUNTIME_URLS.split(",")
        .map((u) => u.trim())
        .filter(Boolean),
      concurrency: config.WORKER_CONCURRENCY,
      maxInflightInputBytes: config.WORKER_MAX_INFLIGHT_INPUT_BYTES,
      leaseMs: config.WORKER_LEASE_MS,
      pollMs: config.WORKER_POLL_MS,
      maxAttempts: config.WORKER_MAX_ATTEMPTS,
      retentionSeconds: config.STREAM_RETENTION_SECONDS,
      runTimeoutSeconds: config.LANGOPEN_RUN_TIMEOUT_SECONDS,
      poolSize: config.DATABASE_POOL_SIZE,
      sweepIntervalMs: config.SWEEP_INTERVAL_MS,
      apiServerUrl: config.API_SERVER_URL,
      cronPollMs: config.WORKER_CRON_POLL_MS,
      internalSecret,
      metrics,
      webhooks: {
        secret: config.WEBHOOK_SECRET,
        allowedHosts: config.WEBHOOK_ALLOWED_HOSTS.split(","),
        selfUrl: config.LANGOPEN_GATEWAY_URL,
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
        backoffBaseMs: config.WEBHOOK_BACKOFF_MS,
      },
    },
    logger,
  );
  const metricsServer = await serveMetrics(config, metrics, logger);
  stopOnSignals(logger, "worker", async () => {
    await service.stop(config.SHUTDOWN_GRACE_MS);
    await metricsServer?.close();
    await signals.close();
    redis?.disconnect();
  });
}

runMain(main);
