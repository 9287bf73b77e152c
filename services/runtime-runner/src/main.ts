// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  createLogger,
  createMetricsRegistry,
  type Logger,
  loadConfig,
  type RuntimeCredentials,
  type RuntimeCredentialsMessage,
  readLanggraphConfig,
  runMain,
  StartupError,
  serveMetrics,
  stopOnSignals,
} from "@langopen/common";
import { type RuntimeStartedMessage, startRuntime } from "./compose.js";
import { type RuntimeConfig, RuntimeConfigSchema } from "./config.js";
import {
  bundleUiOutside,
  type GvisorSpawn,
  isLangOpenVariable,
  PARENT_MESSAGE_PREFIX,
  prepareSandbox,
  startInGvisor,
} from "./sandbox/index.js";
import type { BuiltModules } from "./sandbox/typescript-build.js";

/** How long a launched runtime waits for its credentials on the IPC channel. */
const CREDENTIALS_TIMEOUT_MS = 30_000;

/**
 * The runtime's credentials: from the environment (split mode), else from the launcher's first
 * IPC message. Read before any graph code loads; the variables are then removed from
 * process.env (graph code could still find them in /proc/self/environ: see the config).
 */
async function credentials(config: RuntimeConfig, launched: boolean, stdio: boolean): Promise<RuntimeCredentials> {
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
    if (!stdio) return void process.on("message", onMessage);
    // In gVisor: the first line of stdin; the rest of stdin stays open until the parent goes.
    const lines = createInterface({ input: process.stdin });
    lines.once("line", (line) => {
      lines.close();
      try {
        onMessage(JSON.parse(line) as RuntimeCredentialsMessage);
      } catch {
        reject(new StartupError("The launcher sent unreadable credentials to the runtime process"));
      }
    });
  });
}

/** How long the sandboxed child may take to stop after its supervisor passed on a signal. */
const CHILD_KILL_AFTER_MS = 15_000;

/**
 * Split mode with the sandbox on: this process holds the credentials (its environment, which
 * /proc keeps) and runs none of the graph code. It starts the runtime in a sandboxed child (the
 * same one a launcher starts), hands the credentials over IPC, passes signals on, and exits as
 * the child does (its orchestrator restarts it).
 */
async function supervise(config: RuntimeConfig, logger: Logger): Promise<void> {
  const runtimeCredentials = await credentials(config, false, false);
  const sandbox = await prepareSandbox(
    config.LANGOPEN_CONFIG,
    {
      mode: config.LANGOPEN_SANDBOX,
      uid: config.LANGOPEN_SANDBOX_UID,
      gid: config.LANGOPEN_SANDBOX_GID,
      deny: Object.keys(RuntimeConfigSchema.properties),
      typedSchemas: config.LANGOPEN_TYPED_SCHEMAS,
      logger,
    },
    process.env,
  );
  if (sandbox.sameUserBecause) {
    logger.warn(
      { reason: sandbox.sameUserBecause },
      "Runs graph code as this process's user, under Node's permission model only",
    );
  }
  // NODE_OPTIONS stays out of the child's environment (it could undo the sandbox's flags); the heap
  // limit an operator sets there (README, split mode) is passed on as a flag.
  const heapLimit = /--max-old-space-size=(\d+)/.exec(process.env.NODE_OPTIONS ?? "")?.[0];
  const argv = [...sandbox.execArgv, ...(heapLimit ? [heapLimit] : []), fileURLToPath(import.meta.url)];
  const env: Record<string, string> = {
    ...sandbox.env,
    LANGOPEN_CONFIG: config.LANGOPEN_CONFIG,
    RPC_HOST: config.RPC_HOST,
    RPC_PORT: String(config.RPC_PORT),
    API_SERVER_URL: config.API_SERVER_URL,
    ...(config.LANGOPEN_GATEWAY_URL ? { LANGOPEN_GATEWAY_URL: config.LANGOPEN_GATEWAY_URL } : {}),
    // The sandboxed child serves the metrics: it is the process that runs the graphs.
    ...(config.METRICS_PORT !== undefined
      ? { METRICS_HOST: config.METRICS_HOST, METRICS_PORT: String(config.METRICS_PORT) }
      : {}),
    LOG_LEVEL: config.LOG_LEVEL,
    GRAPH_LOAD_TIMEOUT_MS: String(config.GRAPH_LOAD_TIMEOUT_MS),
    SHUTDOWN_GRACE_MS: String(config.SHUTDOWN_GRACE_MS),
    ...(sandbox.builtModules ? { LANGOPEN_BUILT_MODULES: JSON.stringify(sandbox.builtModules) } : {}),
    ...(sandbox.typedSchemasFile ? { LANGOPEN_TYPED_SCHEMAS_FILE: sandbox.typedSchemasFile } : {}),
    ...(sandbox.uiDir ? { LANGOPEN_UI_DIR: sandbox.uiDir } : {}),
  };
  let gvisor: GvisorSpawn | undefined;
  let child: ReturnType<typeof spawn>;
  if (sandbox.gvisor) {
    // Its messages are for a launcher; nobody waits for them here.
    ({ proc: child, gvisor } = await startInGvisor(sandbox, {
      argv,
      env,
      credentials: { type: "credentials", ...runtimeCredentials },
    }));
  } else {
    child = spawn(process.execPath, argv, {
      env,
      cwd: sandbox.cwd,
      uid: sandbox.uid,
      gid: sandbox.gid,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.send({ type: "credentials", ...runtimeCredentials });
  }
  logger.info({ child_pid: child.pid, sandbox: config.LANGOPEN_SANDBOX, uid: sandbox.uid }, "Started the sandboxed runtime");
  let stopAsked = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      stopAsked = true;
      // A signal to runsc does not reach the process inside: runsc sends it.
      if (gvisor) void gvisor.kill("TERM");
      else child.kill("SIGTERM");
      setTimeout(() => {
        void gvisor?.kill("KILL");
        child.kill("SIGKILL");
      }, CHILD_KILL_AFTER_MS).unref();
    });
  }
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal })),
  );
  await gvisor?.dispose();
  await sandbox.dispose();
  logger.info({ code, signal }, "Sandboxed runtime exited");
  // Stopped by the signal it was sent for a stop asked here (early in its start, before its own
  // handlers were in place): a clean stop, as when it handles the signal itself.
  process.exit(code ?? (stopAsked && signal === "SIGTERM" ? 0 : 1));
}

async function main(): Promise<void> {
  const config = loadConfig(RuntimeConfigSchema, process.env);
  const logger = createLogger({ service: "runtime-runner", level: config.LOG_LEVEL });
  const stdio = config.LANGOPEN_PARENT_CHANNEL === "stdio";
  const launched = process.channel !== undefined || stdio;
  if (!launched && config.LANGOPEN_SANDBOX !== "none") return supervise(config, logger);
  const runtimeCredentials = await credentials(config, launched, stdio);
  // Nothing of LangOpen's stays for graph code to read (under the sandbox, /proc/self/environ is out of its reach too).
  for (const name of Object.keys(process.env)) {
    if (isLangOpenVariable(name) || name in RuntimeConfigSchema.properties) delete process.env[name];
  }
  const builtModules = config.LANGOPEN_BUILT_MODULES ? (JSON.parse(config.LANGOPEN_BUILT_MODULES) as BuiltModules) : undefined;
  // User graphs run in this process: a stray rejected promise of theirs must not end every run.
  process.on("unhandledRejection", (err) => logger.error({ err }, "Ignored unhandled rejection"));
  // Started on its own without the sandbox: nothing bundled the project's UI for it, so it does.
  const ownUi =
    !launched && config.LANGOPEN_UI_DIR === undefined
      ? await bundleUiOutside(await readLanggraphConfig(config.LANGOPEN_CONFIG))
      : undefined;
  const metrics = createMetricsRegistry();
  const runtime = await startRuntime(
    {
      configPath: config.LANGOPEN_CONFIG,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      apiServerUrl: config.API_SERVER_URL,
      graphLoadTimeoutMs: config.GRAPH_LOAD_TIMEOUT_MS,
      credentials: runtimeCredentials,
      builtModules,
      typedSchemasFile: config.LANGOPEN_TYPED_SCHEMAS_FILE,
      uiDir: config.LANGOPEN_UI_DIR ?? ownUi?.dir,
      gatewayUrl: config.LANGOPEN_GATEWAY_URL,
      metrics,
    },
    logger,
  );
  const metricsServer = await serveMetrics(config, metrics, logger);
  // Started by a launcher with an IPC channel: the launcher stops this process (SIGTERM, or by
  // going away), after the runs on it ended. A terminal's Ctrl-C reaches the whole process group,
  // this process too: it leaves that to the launcher.
  const shutdown = stopOnSignals(
    logger,
    "runtime-runner",
    async () => {
      await runtime.stop(config.SHUTDOWN_GRACE_MS);
      await metricsServer?.close();
      await ownUi?.dispose();
    },
    {
      signals: launched ? ["SIGTERM"] : ["SIGTERM", "SIGINT"],
    },
  );
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
  } else if (stdio) {
    process.on("SIGINT", () => logger.debug("Left SIGINT to the launcher"));
    // The launcher holds stdin open while it runs: its end (even by SIGKILL) stops this process.
    process.stdin.on("end", () => shutdown("parent process gone"));
    process.stdin.on("close", () => shutdown("parent process gone"));
    process.stdin.resume();
    const message: RuntimeStartedMessage = { type: "started", url: runtime.rpc.url, graphs: runtime.graphs.list() };
    process.stdout.write(`\n${PARENT_MESSAGE_PREFIX}${JSON.stringify(message)}\n`);
  }
}

runMain(main);
