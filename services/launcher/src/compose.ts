import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { type ApiServerLimits, startApiServer } from "@langopen/api-server";
import {
  createMetricsRegistry,
  createRedis,
  createRpcTransport,
  defaultAssistantSettings,
  freePort,
  Gauge,
  type Logger,
  loadOrCreateInternalSecret,
  type Registry,
  readLanggraphConfig,
  registerRedisMetrics,
  runtimeCallerTokenOf,
  StartupError,
} from "@langopen/common";
import { createLocalSignals, createRedisSignals, type Signals } from "@langopen/data-plane";
import {
  assertSafeBinding,
  authConfigured,
  buildApp,
  type CustomAuth,
  defaultPortalDir,
  type JsonLimits,
  loadAuth,
  type OidcSettings,
} from "@langopen/gateway";
import { Health } from "@langopen/gen/health/v1/health_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import type { SandboxSettings } from "@langopen/runtime-runner/sandbox";
import { startWorkerService, type WebhookDispatcherOptions, WORKER_DEFAULTS } from "@langopen/worker";
import { startEmbeddedPostgres } from "./embedded-postgres.js";
import { defaultRuntimeProcesses, launcherSecrets, startRuntimeProcess } from "./runtime-process.js";

/** LangOpen's version, as /info reports it. */
const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

/** The example project served when the current folder has no langgraph.json. */
export const EXAMPLE_CONFIG = fileURLToPath(new URL("../example/langgraph.json", import.meta.url));

export interface LangOpenOptions {
  host: string;
  port: number;
  /** Absent: an embedded Postgres in dataDir. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Prefix of every key and channel in Redis (default `langopen`): servers sharing one Redis keep apart. */
  redisPrefix?: string;
  configPath: string;
  /** LANGGRAPH_CONFIG of the environment: the default assistants' config (else the project's `env` may give it). */
  langgraphConfig?: string;
  dataDir: string;
  bodyLimitBytes?: number;
  /** How long a custom route (`http.app`) may take to send its status and headers; longer: 504. */
  customRouteHeadTimeoutMs?: number;
  /** How deep and how large JSON bodies may be (LANGOPEN_JSON_MAX_*); see the gateway's JSON body plugin. */
  jsonLimits?: Partial<JsonLimits>;
  /** Most JSON-RPC requests in one MCP batch (LANGOPEN_MCP_MAX_BATCH). */
  mcpMaxBatch?: number;
  shutdownGraceMs?: number;
  logLevel?: string;
  workerConcurrency?: number;
  /** WORKER_MAX_INFLIGHT_INPUT_BYTES. */
  workerMaxInflightInputBytes?: number;
  /** Wall-clock seconds one attempt of a run may take (LANGOPEN_RUN_TIMEOUT_SECONDS). */
  runTimeoutSeconds?: number;
  /** Runtime processes (LANGOPEN_RUNTIME_PROCESSES); absent: from the machine (defaultRuntimeProcesses). */
  runtimeProcesses?: number;
  /** Each runtime process's heap limit in MB (LANGOPEN_RUNTIME_MAX_OLD_SPACE_MB); absent: Node's default. */
  runtimeMaxOldSpaceMb?: number;
  /** Each runtime process's memory in MB, heap and buffers (LANGOPEN_RUNTIME_MAX_MEMORY_MB); absent or 0: no limit. */
  runtimeMaxMemoryMb?: number;
  /**
   * How long past the run timeout a runtime process may stay silent before it is killed (graph
   * code that never yields can be stopped no other way). Default 10 s.
   */
  runtimeHangGraceMs?: number;
  /** How runtime processes are isolated (LANGOPEN_SANDBOX, _UID, _GID); the data directory is always hidden. Default `node`. */
  sandbox?: Omit<SandboxSettings, "hidden" | "logger">;
  /** Seconds a run's event log is kept after it ends. */
  streamRetentionSeconds?: number;
  /** Limits of runs and crons (LANGOPEN_MAX_PENDING_RUNS and the rest, see the api-server's config). */
  runLimits?: Partial<ApiServerLimits>;
  /** Bytes one event log may hold (LANGOPEN_EVENT_LOG_RUN_BYTES); the oldest events go first. */
  eventLogRunBytes?: number;
  /** Bytes all event logs may hold together, in this process or in Redis (LANGOPEN_EVENT_LOG_TOTAL_BYTES). */
  eventLogTotalBytes?: number;
  /** Milliseconds between the worker's looks for due crons. */
  cronPollMs?: number;
  /** Webhook delivery: signing secret, allow-list of private targets, timeouts, retries. */
  webhooks?: WebhookDispatcherOptions;
  /** Reload the runtime when a file of the project changes (`npm start -- --watch`). */
  watch?: boolean;
  /** API keys (`LANGOPEN_API_KEYS`) and a keys file (`LANGOPEN_API_KEYS_FILE`): see the gateway's auth. */
  apiKeys?: string;
  apiKeysFile?: string;
  /** Sign-in with an OpenID Connect provider (LANGOPEN_OIDC_*): see the gateway's auth. */
  oidc?: OidcSettings;
  /** A control plane issuing this deployment's keys (LANGOPEN_CONTROL_URL, LANGOPEN_DEPLOYMENT_ID); instead of apiKeys. */
  controlPlane?: { url: string; deploymentId: string };
  /** LANGOPEN_ALLOW_UNAUTHENTICATED: serve without authentication on a non-loopback host, on purpose. */
  allowUnauthenticated?: boolean;
  /** LANGOPEN_ALLOWED_HOSTS: hosts requests may name besides loopback ones; `*`: any. */
  allowedHosts?: readonly string[];
  /** LANGOPEN_PUBLIC_URL: where clients reach the server, for the URLs it hands out. */
  publicUrl?: string;
  /**
   * The installation's internal secret (LANGOPEN_INTERNAL_SECRET or _FILE), which every internal
   * call carries. Absent: the one in `<dataDir>/internal-secret`, made at the first start.
   */
  internalSecret?: string;
}

export interface LangOpen {
  /** The public REST API, e.g. http://127.0.0.1:8123. */
  readonly url: string;
  /** The api-server's gRPC/Connect endpoint. */
  readonly rpcUrl: string;
  /** The runtime-runner's endpoint (more workers can share it). */
  readonly runtimeUrl: string;
  /** Each runtime process's endpoint (with --watch, the reload proxy's alone). */
  readonly runtimeUrls: readonly string[];
  /** The secret the internal endpoints (rpcUrl, runtimeUrl) want from their callers (see internal-credentials). */
  readonly internalSecret: string;
  stop(): Promise<void>;
}

/** The langgraph.json to serve: the one asked for, else ./langgraph.json, else the example. */
export function chooseConfig(asked: string | undefined, cwd: string): string {
  if (asked) return path.resolve(cwd, asked);
  const local = path.join(cwd, "langgraph.json");
  return existsSync(local) ? local : EXAMPLE_CONFIG;
}

/** What the in-process event logs hold (their budget is LANGOPEN_EVENT_LOG_TOTAL_BYTES). */
function registerEventLogGauges(registry: Registry, usage: () => { bytes: number; events: number }): void {
  new Gauge({
    name: "langopen_event_log_bytes",
    help: "Bytes of run events the in-process event logs hold (bounded by LANGOPEN_EVENT_LOG_TOTAL_BYTES).",
    registers: [registry],
    collect() {
      this.set(usage().bytes);
    },
  });
  new Gauge({
    name: "langopen_event_log_events",
    help: "Run events the in-process event logs hold.",
    registers: [registry],
    collect() {
      this.set(usage().events);
    },
  });
}

/** The host of a URL reaching a server bound to `host` from this machine (a wildcard: loopback). */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** "host:port" of a database or Redis URL (its default port when it names none); undefined without a host. */
function destinationOf(url: string | undefined, defaultPort: number): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.hostname ? `${u.hostname}:${u.port || defaultPort}` : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the data plane and the gateway in one process; stop() reverses the order. */
export async function startLangOpen(options: LangOpenOptions, logger: Logger): Promise<LangOpen> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((err: unknown) => logger.warn({ err }, "Failed to stop a component"));
  };
  try {
    // Before anything starts: no unauthenticated API on an interface other machines reach.
    const project = await readLanggraphConfig(options.configPath);
    const controlPlane = options.controlPlane && {
      transport: createRpcTransport(options.controlPlane.url),
      deploymentId: options.controlPlane.deploymentId,
    };
    const keys = await loadAuth({
      apiKeys: options.apiKeys,
      apiKeysFile: options.apiKeysFile,
      oidc: options.oidc,
      controlPlane,
    });
    assertSafeBinding({
      host: options.host,
      authConfigured: authConfigured(keys) || project.auth?.path !== undefined,
      allowUnauthenticated: options.allowUnauthenticated ?? false,
    });
    const internalSecret = options.internalSecret ?? (await loadOrCreateInternalSecret(options.dataDir, logger));
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      const db = await startEmbeddedPostgres(options.dataDir, logger);
      stops.push(db.stop);
      databaseUrl = db.url;
    }
    const graphIds = Object.keys(project.graphs);
    logger.info({ config: options.configPath, graphs: graphIds }, "Serving graphs");
    // One registry for the whole process: the gateway's /metrics shows every part's.
    const metrics = createMetricsRegistry();
    const redis = options.redisUrl ? createRedis(options.redisUrl, logger, "langopen") : undefined;
    if (redis) stops.push(async () => redis.disconnect());
    if (redis) registerRedisMetrics(metrics, "langopen", redis);
    const budgets = { maxLogBytes: options.eventLogRunBytes, maxTotalBytes: options.eventLogTotalBytes };
    let signals: Signals;
    if (redis) {
      signals = createRedisSignals({ redis, logger, prefix: options.redisPrefix, ...budgets });
    } else {
      const local = createLocalSignals(budgets);
      registerEventLogGauges(metrics, () => local.usage());
      signals = local;
    }
    stops.push(() => signals.close());

    // The api-server and the runtime call each other: fix both addresses first (clients connect lazily).
    const [apiPort, runtimePort] = [await freePort(), await freePort()];
    // The public port too: graph code reaches its own server there (the SDK's Client() without a URL).
    const publicPort = options.port === 0 ? await freePort() : options.port;
    const url = `http://${urlHost(options.host)}:${publicPort}`;
    const runtimeTransport = createRpcTransport(`http://127.0.0.1:${runtimePort}`, {
      token: runtimeCallerTokenOf(internalSecret),
      peerMayBlock: true,
    });
    const api = await startApiServer(
      {
        databaseUrl,
        host: "127.0.0.1",
        port: apiPort,
        graphIds,
        defaultAssistants: await defaultAssistantSettings(project, { LANGGRAPH_CONFIG: options.langgraphConfig }),
        signals,
        runtime: createClient(RuntimeService, runtimeTransport),
        runtimeHealth: createClient(Health, runtimeTransport),
        internalSecret,
        limits: options.runLimits,
        metrics,
      },
      logger.child({ service: "api-server" }),
    );
    stops.push(() => api.stop(options.shutdownGraceMs));
    let customAuth: CustomAuth | undefined;
    const runTimeoutSeconds = options.runTimeoutSeconds ?? WORKER_DEFAULTS.LANGOPEN_RUN_TIMEOUT_SECONDS;
    const runtime = await startRuntimeProcess(
      {
        configPath: options.configPath,
        apiServerUrl: api.rpc.url,
        gatewayUrl: url,
        port: runtimePort,
        logLevel: options.logLevel ?? "info",
        watch: options.watch ? { ignore: [path.resolve(options.dataDir)] } : undefined,
        // A reload may add or drop graphs: the api-server offers exactly those the runtime serves.
        onReload: async (graphs) => {
          await api.setGraphIds(graphs.map((g) => g.graphId));
          // The auth module may have changed with the graphs: the gateway learns its new handlers.
          if (customAuth && !(await customAuth.refresh())) {
            logger.warn("The reloaded project declares no custom auth; the previous one applies until a restart");
          }
        },
        internalSecret,
        metrics,
        processes: options.runtimeProcesses ?? defaultRuntimeProcesses(),
        maxOldSpaceMb: options.runtimeMaxOldSpaceMb,
        maxMemoryMb: options.runtimeMaxMemoryMb || undefined,
        // Silent longer than a run may take: the run holding it is past its timeout (see hangKillMs).
        hangKillMs: runTimeoutSeconds * 1000 + (options.runtimeHangGraceMs ?? 10_000),
        // The data directory (and a keys file) may lie inside the project folder: graph code must not read them.
        sandbox: {
          mode: "node",
          ...options.sandbox,
          // Under gVisor, graph code reaches what langgraph.json's egress declares, never these.
          egressDenied: [destinationOf(databaseUrl, 5432), destinationOf(options.redisUrl, 6379)].flatMap((d) => d ?? []),
          hidden: [
            ...launcherSecrets(options.dataDir, options.configPath),
            ...(options.apiKeysFile ? [path.resolve(options.apiKeysFile)] : []),
          ],
        },
      },
      logger,
    );
    stops.push(async () => {
      // The runtime goes first: the api-server must not report it down while it stops on purpose.
      api.stopDependencyChecks();
      await runtime.stop();
    });
    const worker = startWorkerService(
      {
        databaseUrl,
        signals,
        runtimeUrls: [...runtime.urls],
        runtimeExit: (url, sinceMs) => runtime.exitSince(url, sinceMs),
        runTimeoutSeconds,
        concurrency: options.workerConcurrency,
        maxInflightInputBytes: options.workerMaxInflightInputBytes,
        retentionSeconds: options.streamRetentionSeconds,
        apiServerUrl: api.rpc.url,
        cronPollMs: options.cronPollMs,
        // A webhook given as a path goes to this installation's own API (its custom routes).
        webhooks: { ...options.webhooks, selfUrl: url },
        internalSecret,
        metrics,
      },
      logger.child({ service: "worker" }),
    );
    stops.push(() => worker.stop(options.shutdownGraceMs ?? 10_000));
    // The project's custom auth runs in the runtime; the gateway asks it (and caches per credential).
    const auth = await loadAuth({
      apiKeys: options.apiKeys,
      apiKeysFile: options.apiKeysFile,
      oidc: options.oidc,
      controlPlane,
      runtime: project.auth?.path ? runtimeTransport : undefined,
    });
    customAuth = auth.customAuth;
    if (project.auth?.path && !auth.customAuth) {
      throw new StartupError(
        `The runtime did not load the custom auth of ${options.configPath} (auth.path ${project.auth.path})`,
      );
    }
    const app = await buildApp({
      auth,
      logger: logger.child({ service: "gateway" }),
      // Same process as the api-server: call it directly, not over HTTP/2 loopback (no framing, no serialization).
      transport: api.rpc.inProcessTransport,
      bodyLimitBytes: options.bodyLimitBytes,
      jsonLimits: options.jsonLimits,
      mcpMaxBatch: options.mcpMaxBatch,
      info: { version: VERSION },
      http: project.http,
      // The project's custom routes (http.app) and UI components run in the runtime, next to its graphs.
      ui: Object.keys(project.ui ?? {}).length > 0,
      httpAppTransport: project.http?.app || project.ui ? runtimeTransport : undefined,
      customRouteHeadTimeoutMs: options.customRouteHeadTimeoutMs,
      allowedHosts: options.allowedHosts,
      publicUrl: options.publicUrl,
      portalDir: defaultPortalDir(),
      metrics,
      // Each runtime process's own metrics, labelled with its slot; one that does not answer in time is left out.
      moreMetrics: async () => {
        const answers = await Promise.all(
          runtime.metricsUrls().map((url, slot) =>
            fetch(url, { signal: AbortSignal.timeout(2_000) })
              .then(async (res) => (res.ok ? { labels: { runtime: String(slot) }, text: await res.text() } : undefined))
              .catch(() => undefined),
          ),
        );
        return answers.filter((answer) => answer !== undefined);
      },
    });
    stops.push(() => app.close());
    await app.listen({ host: options.host, port: publicPort });
    logger.info({ url, portal: `${url}/portal/` }, "LangOpen is ready");
    return { url, rpcUrl: api.rpc.url, runtimeUrl: runtime.url, runtimeUrls: runtime.urls, internalSecret, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
