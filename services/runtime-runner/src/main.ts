import {
  createLogger,
  loadConfig,
  type RuntimeCredentials,
  type RuntimeCredentialsMessage,
  runMain,
  StartupError,
  stopOnSignals,
} from "@langopen/common";
import { type RuntimeStartedMessage, startRuntime } from "./compose.js";
import { type RuntimeConfig, RuntimeConfigSchema } from "./config.js";

/** How long a launched runtime waits for its credentials on the IPC channel. */
const CREDENTIALS_TIMEOUT_MS = 30_000;

/**
 * The runtime's credentials: from the environment (split mode), else from the launcher's first
 * IPC message. Read before any graph code loads; the variables are then removed from
 * process.env (graph code could still find them in /proc/self/environ: see the config).
 */
async function credentials(config: RuntimeConfig, launched: boolean): Promise<RuntimeCredentials> {
  const { LANGOPEN_RUNTIME_TOKEN: token, LANGOPEN_INTERNAL_SECRET_SHA256: digest } = config;
  delete process.env.LANGOPEN_RUNTIME_TOKEN;
  delete process.env.LANGOPEN_INTERNAL_SECRET_SHA256;
  if (token !== undefined && digest !== undefined) return { token, internalSecretSha256: digest };
  if (token !== undefined || digest !== undefined || !launched) {
    throw new StartupError(
      "The runtime-runner needs LANGOPEN_RUNTIME_TOKEN and LANGOPEN_INTERNAL_SECRET_SHA256, both derived from the " +
        'installation\'s internal secret: the token is the hex HMAC-SHA256 of "langopen runtime v1" keyed with the ' +
        "secret, the other the hex SHA-256 of the secret",
    );
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new StartupError("The launcher sent no credentials to the runtime process")),
      CREDENTIALS_TIMEOUT_MS,
    );
    const onMessage = (message: RuntimeCredentialsMessage) => {
      if (message?.type !== "credentials") return;
      clearTimeout(timer);
      process.off("message", onMessage);
      resolve({ token: message.token, internalSecretSha256: message.internalSecretSha256 });
    };
    process.on("message", onMessage);
  });
}

async function main(): Promise<void> {
  const config = loadConfig(RuntimeConfigSchema, process.env);
  const logger = createLogger({ service: "runtime-runner", level: config.LOG_LEVEL });
  const runtimeCredentials = await credentials(config, process.channel !== undefined);
  // User graphs run in this process: a stray rejected promise of theirs must not end every run.
  process.on("unhandledRejection", (err) => logger.error({ err }, "Ignored unhandled rejection"));
  const runtime = await startRuntime(
    {
      configPath: config.LANGOPEN_CONFIG,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      apiServerUrl: config.API_SERVER_URL,
      graphLoadTimeoutMs: config.GRAPH_LOAD_TIMEOUT_MS,
      credentials: runtimeCredentials,
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
