import { ConfigError, createLogger, loadConfig } from "@langopen/common";
import { startRuntime } from "./compose.js";
import { RuntimeConfigSchema } from "./config.js";

async function main(): Promise<void> {
  const config = loadConfig(RuntimeConfigSchema, process.env);
  const logger = createLogger({ service: "runtime-runner", level: config.LOG_LEVEL });
  // User graphs run in this process: a stray rejected promise of theirs must not end every run.
  process.on("unhandledRejection", (err) => logger.error({ err }, "Ignored unhandled rejection"));
  const runtime = await startRuntime(
    {
      configPath: config.LANGOPEN_CONFIG,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      apiServerUrl: config.API_SERVER_URL,
      graphLoadTimeoutMs: config.GRAPH_LOAD_TIMEOUT_MS,
    },
    logger,
  );
  const stop = async (signal: string) => {
    logger.info({ signal }, "Stopping runtime-runner");
    await runtime.stop(config.SHUTDOWN_GRACE_MS);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
