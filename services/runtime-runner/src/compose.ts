import { createClient } from "@connectrpc/connect";
import {
  createReplicatedTransport,
  internalOnlyAuth,
  type Logger,
  type Registry,
  type RpcServer,
  type RuntimeCredentials,
  ServingStatus,
  startRpcServer,
  urlList,
} from "@langopen/common";
import { CheckpointService } from "@langopen/gen/langopen/data/v1/checkpoint_service_pb";
import { StoreService } from "@langopen/gen/langopen/data/v1/store_service_pb";
import { AuthService } from "@langopen/gen/langopen/runtime/v1/auth_service_pb";
import { HttpAppService } from "@langopen/gen/langopen/runtime/v1/http_app_service_pb";
import { RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";
import { createAuthServiceImpl } from "./auth/auth-service.js";
import { loadProjectAuth } from "./auth/load.js";
import { createGraphRegistry, type GraphRegistry, type GraphStatus } from "./graphs/registry.js";
import { loadProjectHttpApp } from "./http-app/load.js";
import { createHttpAppServiceImpl } from "./http-app/service.js";
import { createRuntimeServiceImpl } from "./rpc/runtime-service.js";
import type { BuiltModules } from "./sandbox/typescript-build.js";
import { loadProjectUi } from "./ui/serve.js";

export interface RuntimeOptions {
  /** The langgraph.json whose graphs this runtime hosts. */
  configPath: string;
  host: string;
  port: number;
  /** A Unix socket to serve on instead of host and port (in gVisor: its parent passes the connections on). */
  socketPath?: string;
  /** The api-server serving CheckpointService and StoreService. */
  apiServerUrl: string;
  /** The Unix socket reaching each of apiServerUrl's URLs, in order (in gVisor); absent: their host and port. */
  apiServerSockets?: readonly string[];
  /** A graph whose module takes longer than this to load is reported as failed. */
  graphLoadTimeoutMs?: number;
  /**
   * The runtime's token (sent to the data plane) and the digest of the installation's secret
   * (what its own callers must send). Absent: it sends no token and trusts every caller (tests).
   */
  credentials?: RuntimeCredentials;
  /** The project's TypeScript entries compiled before this process started (the sandbox cannot compile). */
  builtModules?: BuiltModules;
  /** Where this process's supervisor leaves the schemas of the graphs' TypeScript types (under the sandbox). */
  typedSchemasFile?: string;
  /** Where the project's UI components were bundled before this process started (`ui` of langgraph.json). */
  uiDir?: string;
  /** Where the installation's API answers: the SDK's `Client()` without a URL in graph code talks to it. */
  gatewayUrl?: string;
  /** Where the runtime counts the RPCs it answers; absent: not counted. */
  metrics?: Registry;
}

/** The global the SDK's Client reads its default URL from (the upstream server sets it the same way). */
const SDK_DEFAULT_URL = Symbol.for("langgraph_api:url");

export interface Runtime {
  readonly rpc: RpcServer;
  readonly graphs: GraphRegistry;
  /** The graphs that failed to load. None: the runtime serves; some: its health says NOT_SERVING. */
  readonly failed: GraphStatus[];
  stop(graceMs?: number): Promise<void>;
}

/**
 * What a runtime process started by a launcher (with an IPC channel) sends it once it listens:
 * its URL and each graph's status (one that failed to load has `loaded: false` and an `error`).
 */
export interface RuntimeStartedMessage {
  type: "started";
  url: string;
  graphs: GraphStatus[];
}

/** http://host:port, a wildcard host as loopback. */
function tcpUrl(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `http://127.0.0.1:${port}`;
  if (host === "::") return `http://[::1]:${port}`;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The composition root of the runtime: graphs, data-plane clients, RuntimeService, server. */
export async function startRuntime(options: RuntimeOptions, logger: Logger): Promise<Runtime> {
  // Before any graph loads: a module may create its Client as it loads.
  if (options.gatewayUrl) (globalThis as Record<symbol, unknown>)[SDK_DEFAULT_URL] = options.gatewayUrl;
  const graphs = await createGraphRegistry({
    configPath: options.configPath,
    logger: logger.child({ component: "graphs" }),
    loadTimeoutMs: options.graphLoadTimeoutMs,
    builtModules: options.builtModules,
    typedSchemasFile: options.typedSchemasFile,
  });
  // The project's custom auth loads next to its graphs; a failure throws, so the runtime does
  // not start (auth fails closed).
  const auth = await loadProjectAuth({
    configPath: options.configPath,
    logger: logger.child({ component: "auth" }),
    loadTimeoutMs: options.graphLoadTimeoutMs,
    builtModules: options.builtModules,
  });
  // The project's custom routes (http.app) load next to its graphs too; a failure stops the start.
  const httpApp = await loadProjectHttpApp({
    configPath: options.configPath,
    logger: logger.child({ component: "http-app" }),
    loadTimeoutMs: options.graphLoadTimeoutMs,
    builtModules: options.builtModules,
  });
  // The project's generative UI, bundled before this process started (the sandbox cannot run esbuild).
  const ui = options.uiDir ? await loadProjectUi(options.uiDir) : undefined;
  if (ui) logger.info({ namespaces: ui.namespaces }, "Serving UI components");
  const dataPlane = createReplicatedTransport(urlList(options.apiServerUrl), {
    token: options.credentials?.token,
    socketPaths: options.apiServerSockets,
  });
  const rpc = await startRpcServer({
    host: options.host,
    port: options.port,
    socketPath: options.socketPath,
    logger,
    // Its callers (workers, api-servers, gateways) hold the secret; the runtime knows only its digest.
    auth: options.credentials && internalOnlyAuth(options.credentials.callerTokenSha256),
    services: [RuntimeService, AuthService, HttpAppService],
    metrics: options.metrics,
    routes: (router) => {
      router.service(
        RuntimeService,
        createRuntimeServiceImpl({
          graphs,
          checkpoints: createClient(CheckpointService, dataPlane),
          store: createClient(StoreService, dataPlane),
          logger: logger.child({ component: "runtime" }),
        }),
      );
      router.service(AuthService, createAuthServiceImpl({ auth, logger: logger.child({ component: "auth" }) }));
      router.service(HttpAppService, createHttpAppServiceImpl({ httpApp, ui, logger: logger.child({ component: "http-app" }) }));
    },
  });
  const listed = graphs.list();
  const failed = listed.filter((g) => !g.loaded);
  // On a socket (in gVisor), its parent serves host and port for it: that is where callers reach it.
  const url = options.socketPath !== undefined ? tcpUrl(options.host, options.port) : rpc.url;
  if (failed.length === 0) {
    logger.info({ url, graphs: listed.map((g) => g.graphId) }, "Runtime is ready");
  } else {
    // A graph that does not load is a broken deployment, not a detail: health checks say so,
    // while the graphs that loaded stay usable.
    rpc.health.setAll(ServingStatus.NOT_SERVING);
    logger.error(
      {
        url,
        graphs: listed.filter((g) => g.loaded).map((g) => g.graphId),
        failed: failed.map((g) => ({ graph_id: g.graphId, file: g.file, cause: g.error })),
      },
      "Marked Runtime not serving: graphs failed to load",
    );
  }
  return {
    rpc,
    graphs,
    failed,
    stop: (graceMs) => rpc.close(graceMs),
  };
}
