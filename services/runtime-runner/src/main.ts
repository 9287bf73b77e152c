// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { type ChildProcess, spawn } from "node:child_process";
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
  startMetricsServer,
  stopOnSignals,
} from "@langopen/common";
import { type RuntimeStartedMessage, startRuntime } from "./compose.js";
import { type RuntimeConfig, RuntimeConfigSchema } from "./config.js";
import {
  bundleUiOutside,
  type GvisorSpawn,
  isLangOpenVariable,
  PARENT_MESSAGE_PREFIX,
  prepareProject,
  type RuntimeMemoryLimits,
  runtimeExitCause,
  startInGvisor,
  withMemoryLimit,
} from "./sandbox/index.js";
import type { SandboxNetworkSockets } from "./sandbox/network.js";
import type { BuiltModules } from "./sandbox/typescript-build.js";

/** How long a launched runtime waits for its credentials on the IPC channel. */
const CREDENTIALS_TIMEOUT_MS = 30_000;

/**
 * The runtime's credentials: from the environment (split mode), else from the launcher's first
 * IPC message. Read before any graph code loads; the variables are then removed from
 * process.env (graph code could still find them in /proc/self/environ: see the config).
 */
async function credentials(config: RuntimeConfig, launched: boolean, stdio: boolean): Promise<RuntimeCredentials> {
  const { LANGOPEN_RUNTIME_TOKEN: token, LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256: digest } = config;
  delete process.env.LANGOPEN_RUNTIME_TOKEN;
  delete process.env.LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256;
  if (token !== undefined && digest !== undefined) return { token, callerTokenSha256: digest };
  if (token !== undefined || digest !== undefined || !launched) {
    throw new StartupError(
      "The runtime-runner needs LANGOPEN_RUNTIME_TOKEN and LANGOPEN_RUNTIME_CALLER_TOKEN_SHA256, both derived from the " +
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
      resolve({ token: message.token, callerTokenSha256: message.callerTokenSha256 });
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
/** How long the supervisor waits before it starts again a sandboxed child that died. */
const RESTART_AFTER_MS = 500;

/** A sandboxed child as its supervisor sees it. */
interface SandboxedChild {
  /** Asks it to stop (a signal to runsc does not reach the process inside: runsc sends it). */
  kill(signal: "TERM" | "KILL"): void;
  /** Once it has exited and its scratch folder (and gVisor container) is gone; `started`: it had said it serves. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; started: boolean; gvisor: boolean }>;
}

/**
 * Split mode with the sandbox on: this process holds the credentials (its environment, which
 * /proc keeps) and runs none of the graph code. It prepares the project once (compiled, what it
 * may read), starts the runtime in a sandboxed child (the same one a launcher starts, under the
 * same memory limit, LANGOPEN_RUNTIME_MAX_MEMORY_MB), hands the credentials over IPC and passes
 * signals on. A child that dies once it served (out of memory, a crash) is started again on the
 * same preparation, its exit's cause logged as a launcher words it; one that fails to start ends
 * this process with its exit code (its orchestrator restarts it), as does a stop.
 */
async function supervise(config: RuntimeConfig, logger: Logger): Promise<void> {
  const runtimeCredentials = await credentials(config, false, false);
  const project = await prepareProject(
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
  if (project.sameUserBecause) {
    logger.warn(
      { reason: project.sameUserBecause },
      "Runs graph code as this process's user, under Node's permission model only",
    );
  }
  // NODE_OPTIONS stays out of the child's environment (it could undo the sandbox's flags); the heap
  // limit an operator sets there (README, split mode) is passed on as a flag.
  const heapLimit = /--max-old-space-size=(\d+)/.exec(process.env.NODE_OPTIONS ?? "");
  const limits: RuntimeMemoryLimits = {
    heap: heapLimit ? { mb: Number(heapLimit[1]), setting: "--max-old-space-size in NODE_OPTIONS" } : undefined,
    memoryMb: config.LANGOPEN_RUNTIME_MAX_MEMORY_MB || undefined,
  };
  const argv = [...(heapLimit ? [heapLimit[0]] : []), fileURLToPath(import.meta.url)];
  const childEnv: Record<string, string> = {
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
    ...(project.builtModules ? { LANGOPEN_BUILT_MODULES: JSON.stringify(project.builtModules) } : {}),
    ...(project.typedSchemasFile ? { LANGOPEN_TYPED_SCHEMAS_FILE: project.typedSchemasFile } : {}),
    ...(project.uiDir ? { LANGOPEN_UI_DIR: project.uiDir } : {}),
  };
  const message = { type: "credentials", ...runtimeCredentials };

  /** One sandboxed child on the prepared project, with its own scratch folder. */
  const startChild = async (): Promise<SandboxedChild> => {
    const sandbox = await project.prepareProcess();
    let started = false;
    const onMessage = (m: unknown) => {
      if ((m as RuntimeStartedMessage | undefined)?.type === "started") started = true;
    };
    let gvisor: GvisorSpawn | undefined;
    let child: ChildProcess;
    const env = { ...sandbox.env, ...childEnv };
    try {
      if (sandbox.gvisor) {
        ({ proc: child, gvisor } = await startInGvisor(sandbox, {
          argv: [...sandbox.execArgv, ...argv],
          env,
          memoryMb: limits.memoryMb,
          credentials: message,
          onMessage,
        }));
      } else {
        const [command, args] = withMemoryLimit([...sandbox.execArgv, ...argv], limits.memoryMb);
        child = spawn(command, args, {
          env,
          cwd: sandbox.cwd,
          uid: sandbox.uid,
          gid: sandbox.gid,
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        child.on("message", onMessage);
        child.send(message);
      }
    } catch (err) {
      await gvisor?.dispose();
      await sandbox.dispose();
      throw err;
    }
    const proc = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once("exit", (code, signal) => resolve({ code, signal })),
    ).then(async ({ code, signal }) => {
      await gvisor?.dispose();
      await sandbox.dispose();
      return { code, signal, started, gvisor: gvisor !== undefined };
    });
    logger.info({ child_pid: proc.pid, sandbox: config.LANGOPEN_SANDBOX, uid: sandbox.uid }, "Started the sandboxed runtime");
    return {
      kill(signal) {
        if (gvisor) void gvisor.kill(signal);
        else proc.kill(signal === "TERM" ? "SIGTERM" : "SIGKILL");
        // runsc itself, when what it ran does not end.
        if (gvisor && signal === "KILL") proc.kill("SIGKILL");
      },
      exited,
    };
  };

  let stopAsked = false;
  let onStop = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    onStop = resolve;
  });
  let child: SandboxedChild | undefined;
  const stopChild = (running: SandboxedChild) => {
    running.kill("TERM");
    setTimeout(() => running.kill("KILL"), CHILD_KILL_AFTER_MS).unref();
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopAsked) return;
      stopAsked = true;
      onStop();
      if (child) stopChild(child);
    });
  }
  for (;;) {
    try {
      child = await startChild();
    } catch (err) {
      await project.dispose();
      throw err;
    }
    if (stopAsked) stopChild(child);
    const { code, signal, started, gvisor } = await child.exited;
    child = undefined;
    if (stopAsked || !started) {
      await project.dispose();
      logger.info({ code, signal }, "Sandboxed runtime exited");
      // Stopped by the signal it was sent for a stop asked here (early in its start, before its own
      // handlers were in place): a clean stop, as when it handles the signal itself.
      process.exit(code ?? (stopAsked && signal === "SIGTERM" ? 0 : 1));
    }
    const { reason, outOfMemory } = runtimeExitCause({ code, signal, gvisor, stoppedByParent: false }, limits);
    logger.error({ code, signal, reason, out_of_memory: outOfMemory }, "Sandboxed runtime died; restarting it");
    await Promise.race([new Promise((resolve) => setTimeout(resolve, RESTART_AFTER_MS)), stopRequested]);
    if (stopAsked) {
      await project.dispose();
      process.exit(0);
    }
  }
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
  // In gVisor (no network): its sockets, and graph code's way out through the egress proxy, set
  // before any graph code loads (see sandbox/network.ts).
  const sockets = config.LANGOPEN_SANDBOX_NETWORK
    ? (JSON.parse(config.LANGOPEN_SANDBOX_NETWORK) as SandboxNetworkSockets)
    : undefined;
  const egress = sockets
    ? await (await import("./sandbox/egress-route.js")).routeEgress(sockets.egress, sockets.forwards)
    : undefined;
  const metrics = createMetricsRegistry();
  const runtime = await startRuntime(
    {
      configPath: config.LANGOPEN_CONFIG,
      host: config.RPC_HOST,
      port: config.RPC_PORT,
      socketPath: sockets?.rpc,
      apiServerUrl: config.API_SERVER_URL,
      apiServerSockets: sockets?.apiServers,
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
  const metricsServer = sockets?.metrics
    ? await startMetricsServer({ host: config.METRICS_HOST, port: 0, socketPath: sockets.metrics, registry: metrics })
    : await serveMetrics(config, metrics, logger);
  // Started by a launcher with an IPC channel: the launcher stops this process (SIGTERM, or by
  // going away), after the runs on it ended. A terminal's Ctrl-C reaches the whole process group,
  // this process too: it leaves that to the launcher.
  const shutdown = stopOnSignals(
    logger,
    "runtime-runner",
    async () => {
      await runtime.stop(config.SHUTDOWN_GRACE_MS);
      await metricsServer?.close();
      await egress?.close();
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
