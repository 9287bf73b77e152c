// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { createClient } from "@connectrpc/connect";
import {
  createLogger,
  createMetricsRegistry,
  createRedis,
  createReplicatedTransport,
  defaultAssistantSettings,
  loadConfig,
  readLanggraphConfig,
  registerRedisMetrics,
  requireInternalSecret,
  runMain,
  runtimeCallerTokenOf,
  serveMetrics,
  stopOnSignals,
  urlList,
} from "@langopen/common";
import { createLocalSignals, createRedisSignals } from "@langopen/data-plane";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { graphIdsOf, startApiServer } from "./compose.js";
import { ApiServerConfigSchema, apiServerLimits, eventLogBudgets } from "./config.js";

async function main(): Promise<void> {
  const config = loadConfig(ApiServerConfigSchema, process.env);
  const logger = createLogger({ service: "api-server", level: config.LOG_LEVEL });
  const internalSecret = await requireInternalSecret(config, "api-server");
  const metrics = createMetricsRegistry();
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL, logger, "api-server") : undefined;
  if (redis) registerRedisMetrics(metrics, "api-server", redis);
  const budgets = eventLogBudgets(config);
  const signals = redis ? createRedisSignals({ redis, logger, ...budgets }) : createLocalSignals(budgets);
  const runtimeUrls = config.RUNTIME_URL ? urlList(config.RUNTIME_URL) : [];
  const runtimeTransport =
    runtimeUrls.length > 0
      ? createReplicatedTransport(runtimeUrls, { token: runtimeCallerTokenOf(internalSecret), peerMayBlock: true })
      : undefined;
  const server = await startApiServer(
    {
      databaseUrl: config.DATABASE_URL,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      poolSize: config.DATABASE_POOL_SIZE,
      graphIds: await graphIdsOf(config.LANGOPEN_CONFIG),
      defaultAssistants:
        config.LANGOPEN_CONFIG === undefined
          ? undefined
          : await defaultAssistantSettings(await readLanggraphConfig(config.LANGOPEN_CONFIG), {
              LANGGRAPH_CONFIG: config.LANGGRAPH_CONFIG,
            }),
      refreshTtlOnRead: config.STORE_REFRESH_TTL_ON_READ,
      limits: apiServerLimits(config),
      signals,
      runtime: runtimeTransport && createClient(RuntimeService, runtimeTransport),
      runtimeHealth: runtimeTransport && createClient(Health, runtimeTransport),
      runtimeReplicas: runtimeUrls.length,
      internalSecret,
      metrics,
      collectAfterStreams: true,
    },
    logger,
  );
  const metricsServer = await serveMetrics(config, metrics, logger);
  stopOnSignals(logger, "api-server", async () => {
    await server.stop(config.SHUTDOWN_GRACE_MS);
    await metricsServer?.close();
    await signals.close();
    redis?.disconnect();
  });
}

runMain(main);
