import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createRpcTransport, type Logger } from "@langopen/common";
import { Health, HealthCheckResponse_ServingStatus } from "@langopen/gen/health/v1/health_pb";

const RUNTIME_MAIN = fileURLToPath(import.meta.resolve("@langopen/runtime-runner/main"));

export interface RuntimeProcess {
  readonly url: string;
  stop(): Promise<void>;
}

export interface RuntimeProcessOptions {
  configPath: string;
  apiServerUrl: string;
  port: number;
  logLevel: string;
  /** Extra environment for the graphs (the user's own variables). */
  env?: Record<string, string | undefined>;
}

/**
 * Runs the runtime-runner as a child process, so graph code that blocks its event loop cannot
 * stall the API; restarts it when it dies. It gets no database or Redis credentials.
 */
export async function startRuntimeProcess(options: RuntimeProcessOptions, logger: Logger): Promise<RuntimeProcess> {
  const { port } = options;
  const url = `http://127.0.0.1:${port}`;
  const log = logger.child({ component: "runtime" });
  let child: ChildProcess | undefined;
  let stopping = false;

  const { DATABASE_URL: _db, REDIS_URL: _redis, ...inherited } = options.env ?? process.env;
  const spawnChild = () => {
    child = spawn(process.execPath, [RUNTIME_MAIN], {
      env: {
        ...inherited,
        LANGOPEN_CONFIG: options.configPath,
        RPC_HOST: "127.0.0.1",
        RPC_PORT: String(port),
        API_SERVER_URL: options.apiServerUrl,
        LOG_LEVEL: options.logLevel,
      },
      // The IPC channel tells the child when this process is gone, even by SIGKILL: it then stops too.
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.once("exit", (code, signal) => {
      if (stopping) return;
      log.error({ code, signal }, "Runtime process died; restarting it");
      setTimeout(() => !stopping && spawnChild(), 500).unref();
    });
  };
  spawnChild();

  const health = createClient(Health, createRpcTransport(url));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await health.check({ service: "" }, { timeoutMs: 1_000 });
      if (res.status === HealthCheckResponse_ServingStatus.SERVING) break;
    } catch {
      // not listening yet
    }
    if (child?.exitCode !== null && child?.exitCode !== undefined) {
      throw new Error(`the runtime process exited with code ${child.exitCode} while starting`);
    }
    if (Date.now() > deadline) throw new Error("the runtime process did not become ready within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  log.info({ url, pid: child?.pid }, "Started runtime process");

  return {
    url,
    async stop() {
      stopping = true;
      const current = child;
      if (!current || current.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => current.once("exit", () => resolve()));
      current.kill("SIGTERM");
      const timer = setTimeout(() => current.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
