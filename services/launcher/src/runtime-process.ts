import { type ChildProcess, spawn } from "node:child_process";
import { type FSWatcher, watch } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type CallOptions,
  type Client,
  createClient,
  type HandlerContext,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import {
  createRpcTransport,
  freePort,
  internalOnlyAuth,
  type Logger,
  type RpcServer,
  type RuntimeCredentialsMessage,
  runtimeCredentialsOf,
  ServingStatus,
  StartupError,
  startRpcServer,
  tokenSha256,
} from "@langopen/common";
import { AuthService } from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import type { GraphStatus, RuntimeStartedMessage } from "@langopen/runtime-runner";

const RUNTIME_MAIN = fileURLToPath(import.meta.resolve("@langopen/runtime-runner/main"));

/** What the reload proxy serves: everything a runtime serves (its health is the proxy's own). */
const FORWARDED: DescService[] = [RuntimeService, AuthService];

/** How long a runtime process may take to load its graphs and listen. */
const START_TIMEOUT_MS = 90_000;
/** How long a stopped runtime process may take to exit before it is killed. */
const KILL_AFTER_MS = 5_000;
/** How long to wait after a change for the next one before reloading (an editor saves in bursts). */
const RELOAD_DEBOUNCE_MS = 300;
/** How long a replaced runtime may finish the calls (runs) it has before it is stopped anyway. */
const RETIRE_AFTER_MS = 10 * 60_000;

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
  /** Where the runtime is served (the same URL across reloads). */
  readonly url: string;
  /** The graphs of the runtime serving now. */
  readonly graphs: RuntimeGraph[];
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
}

interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  /** Calls sent to it through the reload proxy and not ended yet. */
  calls: number;
  /** Resolves with the graphs once it listens; rejects if it exits or hangs first. */
  readonly started: Promise<RuntimeGraph[]>;
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the runtime-runner as a child process, so graph code that blocks its event loop cannot
 * stall the API; restarts it when it dies. It gets no database or Redis credentials. A graph
 * that fails to load fails the start (GraphLoadError).
 *
 * With `watch`, the runtime's URL is served by a proxy in this process that sends each call to
 * the current child: a reload starts a new child, switches new calls to it once it serves, and
 * lets the old child finish the calls (runs) it has before stopping it.
 */
export async function startRuntimeProcess(options: RuntimeProcessOptions, logger: Logger): Promise<RuntimeProcess> {
  const log = logger.child({ component: "runtime" });
  // Nothing of the data plane's: the graph code can read this environment.
  const {
    DATABASE_URL: _db,
    REDIS_URL: _redis,
    LANGOPEN_INTERNAL_SECRET: _secret,
    LANGOPEN_INTERNAL_SECRET_FILE: _secretFile,
    LANGOPEN_RUNTIME_TOKEN: _token,
    LANGOPEN_INTERNAL_SECRET_SHA256: _digest,
    ...inherited
  } = options.env ?? process.env;
  const credentials: RuntimeCredentialsMessage | undefined = options.internalSecret
    ? { type: "credentials", ...runtimeCredentialsOf(options.internalSecret) }
    : undefined;
  let stopping = false;

  const spawnChild = (port: number): Child => {
    const proc = spawn(process.execPath, [RUNTIME_MAIN], {
      env: {
        ...inherited,
        LANGOPEN_CONFIG: options.configPath,
        RPC_HOST: "127.0.0.1",
        RPC_PORT: String(port),
        API_SERVER_URL: options.apiServerUrl,
        LOG_LEVEL: options.logLevel,
      },
      // The IPC channel carries the started message, and tells the child when this process is
      // gone, even by SIGKILL: it then stops too.
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    // First, before it loads any graph: the credentials (not in its environment, which graph code reads).
    if (credentials) proc.send(credentials);
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const started = new Promise<RuntimeGraph[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the runtime process did not start within ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      proc.on("message", (message: RuntimeStartedMessage) => {
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
    return {
      proc,
      port,
      calls: 0,
      started,
      exited,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill("SIGTERM");
        const timer = setTimeout(() => {
          log.warn({ pid: proc.pid, after_ms: KILL_AFTER_MS }, "Killed a runtime process that did not stop in time");
          proc.kill("SIGKILL");
        }, KILL_AFTER_MS);
        await exited;
        clearTimeout(timer);
      },
    };
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

  if (!options.watch) {
    const url = `http://127.0.0.1:${options.port}`;
    let child = spawnChild(options.port);
    const graphs = await serving(child);
    const restartOnExit = (current: Child) => {
      current.proc.once("exit", (code, signal) => {
        if (stopping) return;
        log.error({ code, signal }, "Runtime process died; restarting it");
        setTimeout(() => {
          if (stopping) return;
          child = spawnChild(options.port);
          restartOnExit(child);
          child.started.catch((err: unknown) => log.error({ err }, "Failed to restart the runtime process"));
        }, 500).unref();
      });
    };
    restartOnExit(child);
    log.info({ url, pid: child.proc.pid }, "Started runtime process");
    return {
      url,
      graphs,
      reload: async () => false,
      async stop() {
        stopping = true;
        await child.stop();
      },
    };
  }

  let current = spawnChild(await freePort());
  let graphs = await serving(current);
  const retiring = new Set<Child>();
  const transports = new WeakMap<Child, Transport>();
  const transportOf = (child: Child): Transport => {
    let transport = transports.get(child);
    if (!transport) {
      transport = createRpcTransport(`http://127.0.0.1:${child.port}`, { token: options.internalSecret });
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
      auth: options.internalSecret ? internalOnlyAuth(tokenSha256(options.internalSecret)) : undefined,
      routes: (router) => {
        for (const service of FORWARDED) {
          const clients = new WeakMap<Child, Client<DescService>>();
          router.service(
            service,
            forwardCalls(service, () => {
              const child = current;
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
    await current.stop();
    throw err;
  }

  const replaceOnExit = (child: Child) => {
    child.proc.once("exit", (code, signal) => {
      if (stopping || child !== current) return;
      log.error({ code, signal }, "Runtime process died; starting another");
      // Until another serves, health checks say so.
      proxy.health.setAll(ServingStatus.NOT_SERVING);
      void reload();
    });
  };
  replaceOnExit(current);

  /** Stops a replaced child once the calls it has ended (or after RETIRE_AFTER_MS). */
  const retire = async (child: Child) => {
    retiring.add(child);
    const deadline = Date.now() + RETIRE_AFTER_MS;
    if (child.calls > 0)
      log.info({ pid: child.proc.pid, calls: child.calls }, "Waiting for the calls of the previous runtime to end");
    while (child.calls > 0 && Date.now() < deadline && !stopping && child.proc.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (child.calls > 0 && !stopping) {
      log.warn({ pid: child.proc.pid, calls: child.calls }, "Stopped the previous runtime with calls still running");
    }
    await child.stop();
    retiring.delete(child);
  };

  let reloading: Promise<boolean> | undefined;
  let again = false;
  /** The child a reload is starting, stopped at once when everything stops. */
  let starting: Child | undefined;
  const reloadOnce = async (): Promise<boolean> => {
    const next = spawnChild(await freePort());
    starting = next;
    let nextGraphs: RuntimeGraph[];
    try {
      nextGraphs = await serving(next);
    } catch (err) {
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
      await next.stop();
      return false;
    }
    const previous = current;
    current = next;
    graphs = nextGraphs;
    proxy.health.setAll(ServingStatus.SERVING);
    replaceOnExit(next);
    await options.onReload?.(nextGraphs).catch((err: unknown) => log.error({ err }, "Failed to update the served graphs"));
    log.info({ pid: next.proc.pid, graphs: nextGraphs.map((g) => g.graphId) }, "Reloaded runtime");
    void retire(previous);
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
  log.info({ url: proxy.url, pid: current.proc.pid, watching: projectDir }, "Started runtime process");

  return {
    url: proxy.url,
    get graphs() {
      return graphs;
    },
    reload,
    async stop() {
      stopping = true;
      clearTimeout(debounce);
      watcher.close();
      await starting?.stop();
      await reloading?.catch(() => {});
      await proxy.close();
      await Promise.all([current.stop(), ...[...retiring].map((child) => child.stop())]);
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
