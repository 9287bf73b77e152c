#!/usr/bin/env node
// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { createLogger, loadConfig, resolveInternalSecret, runMain, stopOnSignals } from "@langopen/common";
import { startBuilderServer } from "./compose.js";
import { BuilderConfigSchema, buildUserOf } from "./config.js";

const USAGE = `Usage: node services/builder/dist/main.js
  The builder: turns a git repository (or an uploaded tarball) holding a langgraph.json into a
  signed revision bundle, serving langopen.builder.v1.BuilderService over gRPC/Connect.
Environment: BUILDER_HOST, BUILDER_PORT, LANGOPEN_DATA_DIR, BUILDER_ALLOW_FILE_URLS, BUILDER_TIMEOUT_SECONDS,
  BUILDER_CONCURRENCY, NPM_CACHE, BUILDER_UID, BUILDER_GID, LANGOPEN_INTERNAL_SECRET, LANGOPEN_INTERNAL_SECRET_FILE, LOG_LEVEL, SHUTDOWN_GRACE_MS`;

async function main(): Promise<void> {
  const config = loadConfig(BuilderConfigSchema, process.env);
  const logger = createLogger({ service: "builder", level: config.LOG_LEVEL });
  const builder = await startBuilderServer(
    {
      host: config.BUILDER_HOST,
      port: config.BUILDER_PORT,
      dataDir: config.LANGOPEN_DATA_DIR,
      allowFileUrls: config.BUILDER_ALLOW_FILE_URLS,
      timeoutMs: config.BUILDER_TIMEOUT_SECONDS * 1_000,
      concurrency: config.BUILDER_CONCURRENCY,
      npmCache: config.NPM_CACHE,
      user: buildUserOf(config, process.getuid?.()),
      internalSecret: await resolveInternalSecret(config),
    },
    logger,
  );
  stopOnSignals(logger, "builder", () => builder.stop(config.SHUTDOWN_GRACE_MS));
}

runMain(main, USAGE);
