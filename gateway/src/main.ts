// First: traces (when OTEL_* ask for them) start before the modules they instrument load.
import "@langopen/common/telemetry-start";
import { createRequire } from "node:module";
import {
  ConfigError,
  createIdleCollector,
  createLogger,
  createReplicatedTransport,
  createRpcTransport,
  type LanggraphHttpConfig,
  loadConfig,
  readLanggraphConfig,
  resolveInternalSecret,
  runtimeCallerTokenOf,
  STREAM_RELAY_COLLECTION,
  StartupError,
  stopOnSignals,
  urlList,
} from "@langopen/common";
import { buildApp } from "./app.js";
import { authConfigured, loadAuth } from "./auth/index.js";
import { type GatewayConfig, GatewayConfigSchema, oidcSettingsOf } from "./config.js";
import { assertSafeBinding, parseHostList } from "./plugins/host-check.js";
import { defaultPortalDir } from "./routes/portal/index.js";

function readConfig(): Readonly<GatewayConfig> {
  try {
    return loadConfig(GatewayConfigSchema, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

/** Prints why the gateway must not start as configured, and exits. */
/** How long the gateway waits for its runtime at start (it may start first, as pods do in any order). */
const RUNTIME_WAIT_MS = 120_000;

function refuseToStart(err: unknown): never {
  process.stderr.write(`${err instanceof StartupError ? err.message : String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
}

/** The `http` section of the project's langgraph.json and whether it has UI components, when LANGOPEN_CONFIG names one. */
async function readProjectConfig(file: string | undefined): Promise<{ http?: LanggraphHttpConfig; ui: boolean }> {
  if (file === undefined) return { ui: false };
  try {
    const project = await readLanggraphConfig(file);
    return { http: project.http, ui: Object.keys(project.ui ?? {}).length > 0 };
  } catch (err) {
    return refuseToStart(new StartupError((err as Error).message));
  }
}

const config = readConfig();

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL, version });
const internalSecret = await resolveInternalSecret(config).catch(refuseToStart);
if (internalSecret === undefined) {
  // It starts (its own checks need no secret), but the api-servers refuse every call it makes.
  logger.warn("LANGOPEN_INTERNAL_SECRET is not set: the api-servers will refuse the gateway's calls (UNAUTHENTICATED)");
}
const transport = createReplicatedTransport(urlList(config.API_SERVER_URL), { token: internalSecret });
// Runtimes get a token of their own from callers, never the secret: graph code runs where they read it.
const runtimeCallerToken = internalSecret && runtimeCallerTokenOf(internalSecret);
if ((config.LANGOPEN_CONTROL_URL === undefined) !== (config.LANGOPEN_DEPLOYMENT_ID === undefined))
  refuseToStart(new StartupError("LANGOPEN_CONTROL_URL and LANGOPEN_DEPLOYMENT_ID go together: set both or neither"));
let oidc: ReturnType<typeof oidcSettingsOf>;
try {
  oidc = oidcSettingsOf(config);
} catch (err) {
  refuseToStart(err);
}
const auth = await loadAuth({
  apiKeys: config.LANGOPEN_API_KEYS,
  apiKeysFile: config.LANGOPEN_API_KEYS_FILE,
  oidc,
  controlPlane:
    config.LANGOPEN_CONTROL_URL && config.LANGOPEN_DEPLOYMENT_ID
      ? { transport: createRpcTransport(config.LANGOPEN_CONTROL_URL), deploymentId: config.LANGOPEN_DEPLOYMENT_ID }
      : undefined,
  runtime: config.AUTH_RUNTIME_URL
    ? createReplicatedTransport(urlList(config.AUTH_RUNTIME_URL), { token: runtimeCallerToken, peerMayBlock: true })
    : undefined,
  runtimeWait: {
    ms: RUNTIME_WAIT_MS,
    onWaiting: (err) => logger.info({ url: config.AUTH_RUNTIME_URL, err: err.message }, "Waiting for the runtime to answer"),
  },
}).catch(refuseToStart);
const { http, ui } = await readProjectConfig(config.LANGOPEN_CONFIG);
// The project's custom routes and UI run in a runtime, never here: without one to ask, refuse rather than answer 404.
const httpAppRuntimeUrl = config.HTTP_APP_RUNTIME_URL ?? config.AUTH_RUNTIME_URL;
if ((http?.app || ui) && !httpAppRuntimeUrl) {
  const what = http?.app ? `http.app ${http.app}` : "UI components (ui)";
  refuseToStart(new StartupError(`langgraph.json names ${what}: set HTTP_APP_RUNTIME_URL to the runtime serving it`));
}
try {
  assertSafeBinding({
    host: config.HOST,
    authConfigured: authConfigured(auth),
    allowUnauthenticated: config.LANGOPEN_ALLOW_UNAUTHENTICATED,
  });
} catch (err) {
  refuseToStart(err);
}
const app = await buildApp({
  logger,
  transport,
  auth,
  http,
  ui,
  httpAppTransport:
    (http?.app || ui) && httpAppRuntimeUrl
      ? createReplicatedTransport(urlList(httpAppRuntimeUrl), { token: runtimeCallerToken, peerMayBlock: true })
      : undefined,
  customRouteHeadTimeoutMs: config.LANGOPEN_CUSTOM_ROUTE_HEAD_TIMEOUT_MS,
  allowedHosts: parseHostList(config.LANGOPEN_ALLOWED_HOSTS),
  publicUrl: config.LANGOPEN_PUBLIC_URL,
  bodyLimitBytes: config.BODY_LIMIT_BYTES,
  sseHeartbeatMs: config.SSE_HEARTBEAT_MS,
  // Past 128 MiB of growth a stream's end collects at once (a 9 MB message streams about 94 MB).
  streamCollector: createIdleCollector({ logger, ...STREAM_RELAY_COLLECTION }),
  jsonLimits: {
    maxDepth: config.LANGOPEN_JSON_MAX_DEPTH,
    maxItems: config.LANGOPEN_JSON_MAX_ITEMS,
    maxObjectKeys: config.LANGOPEN_JSON_MAX_OBJECT_KEYS,
  },
  mcpMaxBatch: config.LANGOPEN_MCP_MAX_BATCH,
  info: { version },
  portalDir: config.LANGOPEN_PORTAL_DIR ?? defaultPortalDir(),
});
await app.listen({
  port: config.PORT,
  host: config.HOST,
  listenTextResolver: (address) => `Started gateway at ${address} for the api-server at ${config.API_SERVER_URL}`,
});

stopOnSignals(logger, "gateway", () => app.close(), { forceAfterMs: config.SHUTDOWN_GRACE_MS });
