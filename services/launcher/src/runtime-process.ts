import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { type FSWatcher, watch } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type CallOptions,
  type Client,
  Code,
  ConnectError,
  createClient,
  type HandlerContext,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import {
  Counter,
  createRpcTransport,
  freePort,
  INTERNAL_SECRET_FILE,
  internalOnlyAuth,
  type Logger,
  type Registry,
  type RpcServer,
  type RuntimeCredentialsMessage,
  runtimeCallerTokenOf,
  runtimeCredentialsOf,
  ServingStatus,
  StartupError,
  startRpcServer,
  tokenSha256,
} from "@langopen/common";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { AuthService } from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { HttpAppService } from "@langopen/gen/langopen/runtime/v1/http_app_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import type { GraphStatus, RuntimeStartedMessage } from "@langopen/runtime-runner";
import {
  type GvisorSpawn,
  type PreparedProject,
  prepareProject,
  type RuntimeMemoryLimits,
  runtimeExitCause,
  type SandboxSettings,
  type SandboxSpawn,
  startInGvisor,
  withMemoryLimit,
} from "@langopen/runtime-runner/sandbox";

import { PASSWORD_FILE } from "./embedded-postgres.js";

const RUNTIME_MAIN = fileURLToPath(import.meta.resolve("@langopen/runtime-runner/main"));

/** What the reload proxy serves: everything a runtime serves (its health is the proxy's own). */
const FORWARDED: DescService[] = [RuntimeService, AuthService, HttpAppService];

/** How long a runtime process may take to load its graphs and listen. */
const START_TIMEOUT_MS = 90_000;
/** How long a stopped runtime process may take to exit before it is killed. */
const KILL_AFTER_MS = 5_000;
/** How long to wait after a change for the next one before reloading (an editor saves in bursts). */
const RELOAD_DEBOUNCE_MS = 300;
/** How long a replaced runtime may finish the calls (runs) it has before it is stopped anyway. */
const RETIRE_AFTER_MS = 10 * 60_000;
/** How often the watchdog asks each runtime process whether its event loop answers. */
const PROBE_EVERY_MS = 1_000;
/** A runtime process that has not answered for this long is busy: the reload proxy sends new calls elsewhere. */
const BUSY_AFTER_MS = 3_000;
/** How many recent exits of runtime processes are kept to explain the failure of their runs. */
const EXITS_KEPT = 32;

/**
 * How many runtime processes `npm start` runs when not told: one per core the process may use,
 * at least 2 (so one CPU-bound run never holds every run up) and at most 4 (each costs about
 * 100 MB before it runs anything; more are a setting away).
 */
export function defaultRuntimeProcesses(): number {
  return Math.min(4, Math.max(2, os.availableParallelism()));
}

/**
 * What graph code must not read of the launcher's: its data directory, or, when that holds the
 * project (or is it), LangOpen's own files there (the graphs must stay readable).
 */
export function launcherSecrets(dataDir: string, configPath: string): string[] {
  const data = path.resolve(dataDir);
  const rel = path.relative(data, path.dirname(path.resolve(configPath)));
  const holdsProject = rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  return holdsProject ? [INTERNAL_SECRET_FILE, "postgres", PASSWORD_FILE].map((name) => path.join(data, name)) : [data];
}

/** Why a runtime process ended, as its supervisor saw it. */
export interface RuntimeExit {
  /** When it exited (ms since the epoch). */
  at: number;
  /** A sentence for the runs it hosted, e.g. "the runtime process running the run ran out of memory (...)". */
  reason: string;
  /** It died of its heap limit (V8 aborts the process): a run on it allocated past the limit. */
  outOfMemory: boolean;
}

/** A graph as a runtime process reports it. */
export type RuntimeGraph = GraphStatus;

/** Graphs of the project that failed to load: its message names each graph, its file and the cause. */
export class GraphLoadError extends StartupError {
  constructor(
    readonly configPath: string,
    readonly failed: RuntimeGraph[],
  ) {
    super(
      [
        `${failed.length === 1 ? "A graph" : `${failed.length} graphs`} of ${configPath} failed to load:`,
        ...failed.map((g) => `  graph "${g.graphId}" (${g.spec}), file ${g.file}: ${g.error ?? "unknown error"}`),
      ].join("\n"),
    );
  }
}

export interface RuntimeProcess {
  /** Where the runtime is served (the same URL across reloads); any process of the pool answers there. */
  readonly url: string;
  /**
   * One URL per runtime process of the pool (each the same across restarts), for a worker to
   * spread its runs over; with `watch`, the reload proxy's URL alone (it spreads the calls itself).
   */
  readonly urls: readonly string[];
  /** The latest exit, at or after `sinceMs`, of a runtime process served at `url`. */
  exitSince(url: string, sinceMs: number): RuntimeExit | undefined;
  /** The graphs of the runtime serving now. */
  readonly graphs: RuntimeGraph[];
  /** Where each runtime process serving now exposes its metrics (Prometheus text, loopback), by slot. */
  metricsUrls(): string[];
  /**
   * Starts a runtime on the project as it is now and, once it serves every graph, sends new
   * calls to it and stops the previous one when the calls it has (runs) have ended. A project
   * that fails to load keeps the previous runtime. Resolves to whether the runtime was replaced.
   * Only with `watch`.
   */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface RuntimeProcessOptions {
  configPath: string;
  apiServerUrl: string;
  /** Where this installation's API answers, for graph code's SDK `Client()` without a URL. */
  gatewayUrl?: string;
  port: number;
  logLevel: string;
  /** Extra environment for the graphs (the user's own variables). */
  env?: Record<string, string | undefined>;
  /**
   * Reloads the runtime when a file of the project (the langgraph.json's folder) changes;
   * node_modules, dotfiles and the paths in `ignore` excepted.
   */
  watch?: { ignore?: string[] };
  /** Told the graphs served after each reload (new graphs need their assistants). */
  onReload?: (graphs: RuntimeGraph[]) => Promise<void>;
  /**
   * The installation's internal secret. The child gets only what is derived from it (its own
   * token, the secret's digest), on the IPC channel; the reload proxy checks its callers with it.
   * Absent: the child refuses to start (it needs credentials).
   */
  internalSecret?: string;
  /** Where `langopen_runtime_restarts_total` is counted; absent: not counted. */
  metrics?: Registry;
  /** How many runtime processes serve the runs (default 1); each is restarted when it dies. */
  processes?: number;
  /** Each runtime process's V8 heap limit (--max-old-space-size), in MB; absent: Node's default. */
  maxOldSpaceMb?: number;
  /**
   * Each runtime process's memory in MB: its data segment (RLIMIT_DATA: the heap, buffers and
   * native allocations together), which the heap limit alone does not bound. Past it an
   * allocation fails (a Buffer's throws RangeError in graph code; V8's ends the process, as past
   * the heap limit). Absent: none.
   */
  maxMemoryMb?: number;
  /**
   * A runtime process whose event loop has not answered for this long is killed (and replaced).
   * Graph code that never yields (a busy loop) can only be stopped so; set it past the longest a
   * run may take (the run timeout), so that only a run already past its timeout is held up this
   * long. Absent: never.
   */
  hangKillMs?: number;
  /**
   * How each runtime process is isolated (LANGOPEN_SANDBOX and the rest; see the runtime-runner's
   * sandbox). Absent: `node`, the default.
   */
  sandbox?: SandboxSettings;
}

/**
 * One version of the project's files as runtime processes run it: prepared once (compiled, its
 * UI bundled, what it may read listed) for every process started on it, restarts included. A
 * reload (--watch) starts another; the one it replaces is disposed once its last process exited.
 */
interface Generation {
  readonly project: Promise<PreparedProject>;
  /** Processes started (or starting) on it that have not exited. */
  users: number;
  /** No process will be started on it any more: disposed once the last one exited. */
  retired: boolean;
  disposed?: Promise<void>;
}

interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  /** Where it serves its own metrics (loopback). */
  readonly metricsUrl: string;
  /** Calls sent to it through the reload proxy and not ended yet. */
  calls: number;
  /** When its event loop last answered the watchdog (or when it started). */
  answeredAt: number;
  /** The watchdog killed it for not answering. */
  hung: boolean;
  /** Resolves with the graphs once it listens; rejects if it exits or hangs first. */
  readonly started: Promise<RuntimeGraph[]>;
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the runtime-runner as a pool of child processes, so graph code that blocks its event loop
 * cannot stall the API, nor the runs on the other processes; restarts each when it dies, and
 * kills one whose event loop stays silent past `hangKillMs`. They get no database or Redis
 * credentials. A graph that fails to load fails the start (GraphLoadError).
 *
 * With `watch`, the runtime's URL is served by a proxy in this process that sends each call to
 * the least busy child of the current generation: a reload starts a new generation, switches new
 * calls to it once it serves, and lets the old children finish the calls (runs) they have before
 * stopping them.
 */
export async function startRuntimeProcess(options: RuntimeProcessOptions, logger: Logger): Promise<RuntimeProcess> {
  const log = logger.child({ component: "runtime" });
  // The graph code can read its environment: the sandbox leaves nothing of LangOpen's in it.
  const inherited = options.env ?? process.env;
  const sandboxSettings: SandboxSettings = { mode: "node", ...options.sandbox, logger: log };
  let warnedSameUser = false;
  const credentials: RuntimeCredentialsMessage | undefined = options.internalSecret
    ? { type: "credentials", ...runtimeCredentialsOf(options.internalSecret) }
    : undefined;
  let stopping = false;
  const restarts =
    options.metrics &&
    new Counter({
      name: "langopen_runtime_restarts_total",
      help: "Runtime processes that died (crashed, out of memory, killed when hung) and were started again.",
      registers: [options.metrics],
    });

  // What callers of a runtime send (its processes', and this process's runtime port): not the secret, which graph code could read there.
  const callerToken = options.internalSecret ? runtimeCallerTokenOf(options.internalSecret) : undefined;
  const limits: RuntimeMemoryLimits = {
    heap: options.maxOldSpaceMb ? { mb: options.maxOldSpaceMb, setting: "LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB" } : undefined,
    memoryMb: options.maxMemoryMb,
  };

  /** A generation on the project as it is now; its preparation starts at once, shared by the processes started on it. */
  const newGeneration = (): Generation => {
    const project = prepareProject(options.configPath, sandboxSettings, inherited);
    project.catch(() => {});
    return { project, users: 0, retired: false };
  };
  const disposeGeneration = (generation: Generation): Promise<void> => {
    generation.disposed ??= generation.project.then(
      (project) => project.dispose(),
      () => {},
    );
    return generation.disposed;
  };
  /** No more processes on it: disposed now if none runs, else when the last one exits. */
  const retireGeneration = (generation: Generation): Promise<void> => {
    generation.retired = true;
    return generation.users === 0 ? disposeGeneration(generation) : Promise.resolve();
  };
  const releaseGeneration = (generation: Generation): Promise<void> => {
    generation.users--;
    return generation.retired && generation.users === 0 ? disposeGeneration(generation) : Promise.resolve();
  };

  const spawnChild = async (port: number, generation: Generation): Promise<Child> => {
    const heapLimit = options.maxOldSpaceMb ? [`--max-old-space-size=${options.maxOldSpaceMb}`] : [];
    generation.users++;
    let sandbox: SandboxSpawn;
    let metricsPort: number;
    try {
      // Shared by the generation's processes: the project compiled, what it may read; per process: its scratch folder.
      sandbox = await (await generation.project).prepareProcess();
    } catch (err) {
      await releaseGeneration(generation);
      throw err;
    }
    try {
      // Its own metrics (its RPCs, its memory and event loop): the launcher's /metrics adds them, per process.
      metricsPort = await freePort();
    } catch (err) {
      await sandbox.dispose();
      await releaseGeneration(generation);
      throw err;
    }
    if (sandbox.sameUserBecause && !warnedSameUser) {
      warnedSameUser = true;
      log.warn({ reason: sandbox.sameUserBecause }, "Runs graph code as this process's user, under Node's permission model only");
    }
    const env: Record<string, string> = {
      ...sandbox.env,
      ...(sandbox.builtModules ? { LANGOPEN_BUILT_MODULES: JSON.stringify(sandbox.builtModules) } : {}),
      ...(sandbox.typedSchemasFile ? { LANGOPEN_TYPED_SCHEMAS_FILE: sandbox.typedSchemasFile } : {}),
      ...(sandbox.uiDir ? { LANGOPEN_UI_DIR: sandbox.uiDir } : {}),
      LANGOPEN_CONFIG: options.configPath,
      RPC_HOST: "127.0.0.1",
      RPC_PORT: String(port),
      API_SERVER_URL: options.apiServerUrl,
      ...(options.gatewayUrl ? { LANGOPEN_GATEWAY_URL: options.gatewayUrl } : {}),
      LOG_LEVEL: options.logLevel,
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(metricsPort),
      // Its own grace for open calls ends before this process would kill it.
      SHUTDOWN_GRACE_MS: String(KILL_AFTER_MS - 2_000),
    };
    let gvisor: GvisorSpawn | undefined;
    /** This process stopped it (its exit is no failure of its own). */
    let stoppedByUs = false;
    let proc: ChildProcess;
    /** The child's messages to this process ("started"). */
    const messages = new EventEmitter();
    try {
      if (sandbox.gvisor) {
        ({ proc, gvisor } = await startInGvisor(sandbox, {
          argv: [...sandbox.execArgv, ...heapLimit, RUNTIME_MAIN],
          env,
          memoryMb: limits.memoryMb,
          credentials,
          onMessage: (message) => messages.emit("message", message),
        }));
      } else {
        const [command, args] = withMemoryLimit([...sandbox.execArgv, ...heapLimit, RUNTIME_MAIN], limits.memoryMb);
        proc = spawn(command, args, {
          cwd: sandbox.cwd,
          uid: sandbox.uid,
          gid: sandbox.gid,
          env,
          // The IPC channel carries the started message, and tells the child when this process is
          // gone, even by SIGKILL: it then stops too.
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        proc.on("message", (message) => messages.emit("message", message));
        // First, before it loads any graph: the credentials (not in its environment, which graph code reads).
        if (credentials) proc.send(credentials);
      }
    } catch (err) {
      await gvisor?.dispose();
      await sandbox.dispose();
      await releaseGeneration(generation);
      throw err;
    }
    const exited = new Promise<void>((resolve) =>
      proc.once("exit", () => {
        void (gvisor?.dispose() ?? Promise.resolve())
          .then(() => sandbox.dispose())
          .then(() => releaseGeneration(generation))
          .finally(resolve);
      }),
    );
    const started = new Promise<RuntimeGraph[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the runtime process did not start within ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      messages.on("message", (message: RuntimeStartedMessage) => {
        if (message?.type !== "started") return;
        clearTimeout(timer);
        resolve(message.graphs);
      });
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the runtime process exited (code ${code}, signal ${signal}) while starting`));
      });
    });
    started.catch(() => {});
    const child: Child = {
      proc,
      port,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      calls: 0,
      answeredAt: Date.now(),
      hung: false,
      started,
      exited,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        stoppedByUs = true;
        // A signal to runsc does not reach the process inside: runsc sends it.
        if (gvisor) void gvisor.kill("TERM");
        else proc.kill("SIGTERM");
        const timer = setTimeout(() => {
          log.warn({ runtime_pid: proc.pid, after_ms: KILL_AFTER_MS }, "Killed a runtime process that did not stop in time");
          void gvisor?.kill("KILL");
          proc.kill("SIGKILL");
        }, KILL_AFTER_MS);
        await exited;
        clearTimeout(timer);
      },
    };
    proc.once("exit", (code, signal) => {
      if (stopping) return;
      const { reason, outOfMemory } = child.hung
        ? {
            reason: `the runtime process running the run stopped answering for ${Math.round((options.hangKillMs ?? 0) / 1000)} s (graph code kept its event loop busy past the run timeout) and was killed`,
            outOfMemory: false,
          }
        : runtimeExitCause({ code, signal, gvisor: gvisor !== undefined, stoppedByParent: stoppedByUs }, limits);
      exits.push({ port, at: Date.now(), reason, outOfMemory });
      if (exits.length > EXITS_KEPT) exits.shift();
    });
    void started.then(
      () => watchdog(child),
      () => {},
    );
    return child;
  };

  /**
   * Asks the child every second whether its event loop answers; kills it once it has not for
   * `hangKillMs` (its supervisor then replaces it, and the calls on it fail).
   */
  const watchdog = (child: Child) => {
    child.answeredAt = Date.now();
    const health = createClient(
      Health,
      createRpcTransport(`http://127.0.0.1:${child.port}`, { token: callerToken, peerMayBlock: true }),
    );
    let probing = false;
    const timer = setInterval(() => {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) return clearInterval(timer);
      if (options.hangKillMs && Date.now() - child.answeredAt > options.hangKillMs && !child.hung) {
        child.hung = true;
        clearInterval(timer);
        log.error(
          { runtime_pid: child.proc.pid, silent_ms: Date.now() - child.answeredAt },
          "Killed a runtime process that stopped answering (graph code kept its event loop busy past the run timeout)",
        );
        child.proc.kill("SIGKILL");
        return;
      }
      if (probing) return;
      probing = true;
      health
        .check({}, { timeoutMs: PROBE_EVERY_MS })
        .then(
          () => {
            child.answeredAt = Date.now();
          },
          (err: unknown) => {
            // Any answer but silence shows the event loop turns.
            const code = err instanceof ConnectError ? err.code : undefined;
            if (code !== undefined && code !== Code.DeadlineExceeded && code !== Code.Unavailable && code !== Code.Canceled) {
              child.answeredAt = Date.now();
            }
          },
        )
        .finally(() => {
          probing = false;
        });
    }, PROBE_EVERY_MS);
    timer.unref();
  };

  const exits: Array<RuntimeExit & { port: number }> = [];
  const exitOf = (ports: (port: number) => boolean, sinceMs: number): RuntimeExit | undefined => {
    for (let i = exits.length - 1; i >= 0; i--) {
      const e = exits[i] as RuntimeExit & { port: number };
      if (e.at >= sinceMs && ports(e.port)) return { at: e.at, reason: e.reason, outOfMemory: e.outOfMemory };
    }
    return undefined;
  };

  /** The child's graphs once it serves them all; otherwise the child is stopped and this throws. */
  const serving = async (child: Child): Promise<RuntimeGraph[]> => {
    try {
      const graphs = await child.started;
      const failed = graphs.filter((g) => !g.loaded);
      if (failed.length > 0) throw new GraphLoadError(options.configPath, failed);
      return graphs;
    } catch (err) {
      await child.stop();
      throw err;
    }
  };

  const size = Math.max(1, options.processes ?? 1);
  /** Starts `size` children of a generation; all serve, or all are stopped. */
  const spawnGeneration = async (generation: Generation): Promise<Child[]> => {
    const ports: number[] = [];
    while (ports.length < size) ports.push(await freePort());
    const spawned = await Promise.allSettled(ports.map((port) => spawnChild(port, generation)));
    const children = spawned.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = spawned.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await Promise.all(children.map((child) => child.stop()));
      throw failed.reason;
    }
    return children;
  };
  const servingAll = async (generation: Child[]): Promise<RuntimeGraph[]> => {
    try {
      return (await Promise.all(generation.map((child) => serving(child))))[0] as RuntimeGraph[];
    } catch (err) {
      await Promise.all(generation.map((child) => child.stop()));
      throw err;
    }
  };
  /**
   * The child of the generation serving now for a new call: the one with the fewest open calls
   * among those whose event loop answers (a CPU-bound run holds its process's), any if none does.
   */
  const pick = (): Child => {
    const now = Date.now();
    let best: Child | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const child of current) {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) continue;
      const score = child.calls + (now - child.answeredAt > BUSY_AFTER_MS ? 1_000_000 : 0);
      if (score < bestScore) {
        best = child;
        bestScore = score;
      }
    }
    return best ?? (current[0] as Child);
  };
  /** The generation new children start on (with --watch, each reload makes another). */
  let generation = newGeneration();
  let current: Child[];
  let graphs: RuntimeGraph[];
  try {
    current = await spawnGeneration(generation);
    graphs = await servingAll(current);
  } catch (err) {
    await retireGeneration(generation);
    throw err;
  }
  const urlOf = (child: Child) => `http://127.0.0.1:${child.port}`;
  const retiring = new Set<Child>();
  const transports = new WeakMap<Child, Transport>();
  const transportOf = (child: Child): Transport => {
    let transport = transports.get(child);
    if (!transport) {
      transport = createRpcTransport(urlOf(child), { token: callerToken, peerMayBlock: true });
      transports.set(child, transport);
    }
    return transport;
  };
  let proxy: RpcServer;
  try {
    proxy = await startRpcServer({
      host: "127.0.0.1",
      port: options.port,
      logger: log,
      services: FORWARDED,
      auth: callerToken ? internalOnlyAuth(tokenSha256(callerToken)) : undefined,
      routes: (router) => {
        for (const service of FORWARDED) {
          const clients = new WeakMap<Child, Client<DescService>>();
          router.service(
            service,
            forwardCalls(service, () => {
              const child = pick();
              let client = clients.get(child);
              if (!client) {
                client = createClient(service, transportOf(child));
                clients.set(child, client);
              }
              return { client, child };
            }),
          );
        }
      },
    });
  } catch (err) {
    await Promise.all(current.map((child) => child.stop()));
    await retireGeneration(generation);
    throw err;
  }

  if (!options.watch) {
    // Each process keeps its slot and port across restarts: a worker holds one client per process.
    const urls = current.map(urlOf);
    const restartOnExit = (slot: number) => {
      const dead = current[slot] as Child;
      dead.proc.once("exit", (code, signal) => {
        if (stopping) return;
        log.error({ code, signal, slot }, "Runtime process died; restarting it");
        restarts?.inc();
        if (current.every((c) => c.proc.exitCode !== null || c.proc.signalCode !== null)) {
          proxy.health.setAll(ServingStatus.NOT_SERVING);
        }
        setTimeout(async () => {
          if (stopping) return;
          let next: Child;
          try {
            // On the generation its siblings run: the project is not prepared again.
            next = await spawnChild(dead.port, generation);
          } catch (err) {
            log.error({ err, slot }, "Failed to restart the runtime process");
            return;
          }
          if (stopping) return void next.stop();
          current = current.map((c, i) => (i === slot ? next : c));
          restartOnExit(slot);
          next.started.then(
            () => proxy.health.setAll(ServingStatus.SERVING),
            (err: unknown) => log.error({ err, slot }, "Failed to restart the runtime process"),
          );
        }, 500).unref();
      });
    };
    for (let slot = 0; slot < current.length; slot++) restartOnExit(slot);
    log.info({ url: proxy.url, urls, pids: current.map((child) => child.proc.pid) }, "Started runtime processes");
    return {
      url: proxy.url,
      urls,
      graphs,
      exitSince: (url, sinceMs) => exitOf((port) => url === `http://127.0.0.1:${port}` || url === proxy.url, sinceMs),
      metricsUrls: () => current.map((child) => child.metricsUrl),
      reload: async () => false,
      async stop() {
        stopping = true;
        await proxy.close();
        await Promise.all(current.map((child) => child.stop()));
        await retireGeneration(generation);
      },
    };
  }

  /**
   * A child of the serving generation that dies is replaced by another of that generation (a
   * change of the project since brings a reload of its own).
   */
  const replaceOnExit = (child: Child) => {
    child.proc.once("exit", (code, signal) => {
      if (stopping || !current.includes(child)) return;
      log.error({ code, signal }, "Runtime process died; starting another");
      void replace(child);
    });
  };
  const replace = async (dead: Child): Promise<void> => {
    let next: Child | undefined;
    try {
      next = await spawnChild(await freePort(), generation);
      await serving(next);
    } catch (err) {
      if (stopping) return;
      log.error({ err }, "Failed to replace a runtime process; reloading the project");
      // Until a generation serves again, health checks say so when none of this one is left.
      if (current.every((c) => c === dead || c.proc.exitCode !== null || c.proc.signalCode !== null)) {
        proxy.health.setAll(ServingStatus.NOT_SERVING);
      }
      void reload();
      return;
    }
    const slot = current.indexOf(dead);
    if (stopping || slot < 0) {
      // Stopped, or a reload replaced the whole generation meanwhile.
      await next.stop();
      return;
    }
    current = current.map((c, i) => (i === slot ? next : c));
    replaceOnExit(next);
  };
  for (const child of current) replaceOnExit(child);

  /** Stops a replaced child once the calls it has ended (or after RETIRE_AFTER_MS). */
  const retire = async (child: Child) => {
    retiring.add(child);
    const deadline = Date.now() + RETIRE_AFTER_MS;
    if (child.calls > 0)
      log.info({ runtime_pid: child.proc.pid, calls: child.calls }, "Waiting for the calls of the previous runtime to end");
    while (child.calls > 0 && Date.now() < deadline && !stopping && child.proc.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (child.calls > 0 && !stopping) {
      log.warn({ runtime_pid: child.proc.pid, calls: child.calls }, "Stopped the previous runtime with calls still running");
    }
    await child.stop();
    retiring.delete(child);
  };

  let reloading: Promise<boolean> | undefined;
  let again = false;
  /** The children a reload is starting, stopped at once when everything stops. */
  let starting: Child[] | undefined;
  const reloadOnce = async (): Promise<boolean> => {
    const nextGeneration = newGeneration();
    let next: Child[];
    let nextGraphs: RuntimeGraph[];
    try {
      next = await spawnGeneration(nextGeneration);
      starting = next;
      nextGraphs = await servingAll(next);
    } catch (err) {
      void retireGeneration(nextGeneration);
      if (err instanceof GraphLoadError) {
        log.error(
          { failed: err.failed.map((g) => ({ graph_id: g.graphId, file: g.file, cause: g.error })) },
          "Kept the running runtime: graphs failed to load after a change",
        );
      } else if (!stopping) {
        log.error({ err }, "Kept the running runtime: the new one failed to start");
      }
      return false;
    } finally {
      starting = undefined;
    }
    if (stopping) {
      await Promise.all(next.map((child) => child.stop()));
      await retireGeneration(nextGeneration);
      return false;
    }
    const previous = current;
    // Its build folder goes once the last of its children (retired below, after their calls) has exited.
    void retireGeneration(generation);
    generation = nextGeneration;
    current = next;
    graphs = nextGraphs;
    proxy.health.setAll(ServingStatus.SERVING);
    for (const child of next) replaceOnExit(child);
    await options.onReload?.(nextGraphs).catch((err: unknown) => log.error({ err }, "Failed to update the served graphs"));
    log.info({ pids: next.map((child) => child.proc.pid), graphs: nextGraphs.map((g) => g.graphId) }, "Reloaded runtime");
    for (const child of previous) void retire(child);
    return true;
  };
  /** One reload at a time; a change during one brings one more after it. */
  const reload = (): Promise<boolean> => {
    if (stopping) return Promise.resolve(false);
    if (reloading) {
      again = true;
      return reloading;
    }
    reloading = reloadOnce().finally(() => {
      reloading = undefined;
      if (again) {
        again = false;
        void reload();
      }
    });
    return reloading;
  };

  const projectDir = path.dirname(options.configPath);
  let debounce: NodeJS.Timeout | undefined;
  const watcher = await watchProject(projectDir, options.watch.ignore ?? [], (file) => {
    log.debug({ file }, "Saw a change");
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      log.info({ file: path.relative(projectDir, file) }, "Reloading runtime after a change");
      void reload();
    }, RELOAD_DEBOUNCE_MS);
  });
  log.info({ url: proxy.url, pids: current.map((child) => child.proc.pid), watching: projectDir }, "Started runtime processes");

  return {
    url: proxy.url,
    urls: [proxy.url],
    // Every process of every generation answers at the proxy's URL.
    exitSince: (url, sinceMs) => (url === proxy.url ? exitOf(() => true, sinceMs) : undefined),
    metricsUrls: () => current.map((child) => child.metricsUrl),
    get graphs() {
      return graphs;
    },
    reload,
    async stop() {
      stopping = true;
      clearTimeout(debounce);
      watcher.close();
      await Promise.all((starting ?? []).map((child) => child.stop()));
      await reloading?.catch(() => {});
      await proxy.close();
      await Promise.all([...current, ...retiring].map((child) => child.stop()));
      await retireGeneration(generation);
    },
  };
}

type Method = (input: unknown, options: CallOptions) => unknown;

/**
 * A runtime service answered by the child serving now: each call goes to the child that is
 * current when it starts and stays with it; the child's count of open calls goes down when the
 * call ends (Connect aborts a handler's signal once its call is done, however it ended).
 */
function forwardCalls<S extends DescService>(
  service: S,
  target: () => { client: Client<DescService>; child: Child },
): ServiceImpl<S> {
  const impl: Record<string, (input: unknown, ctx: HandlerContext) => unknown> = {};
  for (const method of service.methods as DescMethod[]) {
    impl[method.localName] = (input, ctx) => {
      const { client, child } = target();
      child.calls++;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        child.calls--;
      };
      if (ctx.signal.aborted) end();
      else ctx.signal.addEventListener("abort", end, { once: true });
      const call = (client as unknown as Record<string, Method>)[method.localName] as Method;
      const streamed = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
      return call(streamed ? endingWith(input as AsyncIterable<unknown>, ctx.signal) : input, {
        signal: ctx.signal,
        timeoutMs: ctx.timeoutMs(),
        contextValues: ctx.values,
      });
    };
  }
  return impl as unknown as ServiceImpl<S>;
}

/**
 * The requests of a forwarded call, ending when the call ends: once the child has answered, the
 * caller's end of its requests may never reach the proxy, and the proxy's stream to the child
 * would stay open (and the child could not stop).
 */
async function* endingWith<T>(requests: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = requests[Symbol.asyncIterator]();
  const ended = new Promise<IteratorResult<T>>((resolve) => {
    const end = () => resolve({ done: true, value: undefined });
    if (signal.aborted) end();
    else signal.addEventListener("abort", end, { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), ended]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    void iterator.return?.()?.catch(() => {});
  }
}

/**
 * Watches every folder of a project (fs.watch per folder: Node's recursive watch would also walk
 * node_modules, a watch per file, synchronously) and reports each changed path. Skips
 * node_modules, dotfiles and dot-folders, editor backups ("~") and the `ignore` paths.
 */
async function watchProject(root: string, ignore: string[], onChange: (file: string) => void): Promise<{ close(): void }> {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  const ignored = (file: string) => {
    if (ignore.some((p) => file === p || file.startsWith(`${p}${path.sep}`))) return true;
    const rel = path.relative(root, file);
    return rel.split(path.sep).some((part) => part === "node_modules" || part.startsWith(".") || part.endsWith("~"));
  };
  const add = async (dir: string): Promise<void> => {
    if (closed || watchers.has(dir) || (dir !== root && ignored(dir))) return;
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (!name) return;
        const file = path.join(dir, name.toString());
        if (ignored(file)) return;
        onChange(file);
        // A new folder gets its own watch.
        void add(file);
      });
    } catch {
      return;
    }
    watcher.on("error", () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await add(path.join(dir, entry.name));
    }
  };
  await add(root);
  return {
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
