import { createLogger, loadConfig, runMain, stopOnSignals } from "@langopen/common";
import { type RuntimeStartedMessage, startRuntime } from "./compose.js";
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
  // Started by a launcher with an IPC channel: the launcher stops this process (SIGTERM, or by
  // going away), after the runs on it ended. A terminal's Ctrl-C reaches the whole process group,
  // this process too: it leaves that to the launcher.
  const launched = process.channel !== undefined;
  const shutdown = stopOnSignals(logger, "runtime-runner", () => runtime.stop(config.SHUTDOWN_GRACE_MS), {
    signals: launched ? ["SIGTERM"] : ["SIGTERM", "SIGINT"],
  });
  if (launched && process.send) {
    process.on("SIGINT", () => logger.debug("Left SIGINT to the launcher"));
    // When the launcher is gone (even killed), stop too.
    process.once("disconnect", () => shutdown("parent process gone"));
    const message: RuntimeStartedMessage = {
      type: "started",
      url: runtime.rpc.url,
      graphs: runtime.graphs.list(),
    };
    process.send(message);
  }
}

runMain(main);
