import { createLogger, loadConfig, runMain, stopOnSignals } from "@langopen/common";
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
  const shutdown = stopOnSignals(logger, "runtime-runner", () => runtime.stop(config.SHUTDOWN_GRACE_MS));
  // Started by a launcher with an IPC channel: when the launcher is gone (even killed), stop too.
  if (process.channel) process.once("disconnect", () => shutdown("parent process gone"));
}

runMain(main);
