import { randomUUID } from "node:crypto";
import type { Transport } from "@connectrpc/connect";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { type IdleCollector, type LanggraphHttpConfig, type Logger, type Registry, tracingEnabled } from "@langopen/common";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyTypeProviderDefault,
  LogController,
} from "fastify";
import { GATEWAY_DEFAULTS } from "./config.js";
import { type AuthOptions, authPlugin } from "./plugins/auth.js";
import { corsPlugin } from "./plugins/cors.js";
import { answerClientError, answerFrameworkError, errorHandlerPlugin } from "./plugins/error-handler.js";
import { hostCheckEnabled, hostCheckPlugin } from "./plugins/host-check.js";
import { type JsonLimits, jsonBodyPlugin } from "./plugins/json-body.js";
import { metricsPlugin } from "./plugins/metrics.js";
import { openapiPlugin } from "./plugins/openapi.js";
import type { OversizedBodyDrain } from "./plugins/oversized-body.js";
import { rpcClientsPlugin } from "./plugins/rpc-clients.js";
import { ssePlugin } from "./plugins/sse.js";
import { a2aRoutes } from "./routes/a2a/index.js";
import { assistantRoutes } from "./routes/assistants/index.js";
import { cronRoutes } from "./routes/crons/index.js";
import { customRoutes } from "./routes/custom-routes.js";
import { mcpRoutes } from "./routes/mcp/index.js";
import { type MoreMetrics, metricsRoutes } from "./routes/metrics/index.js";
import { portalPlugin } from "./routes/portal/index.js";
import { protocolV2Routes } from "./routes/protocol-v2/index.js";
import { runRoutes } from "./routes/runs/index.js";
import { stateRoutes } from "./routes/state/index.js";
import { storeRoutes } from "./routes/store/index.js";
import { type GatewayInfo, systemRoutes } from "./routes/system/index.js";
import { threadRoutes } from "./routes/threads/index.js";
import { webhookRoutes } from "./routes/webhooks/index.js";
import { validatorCompiler } from "./validation.js";

export type { GatewayInfo } from "./routes/system/index.js";

export interface GatewayDeps {
  /** The process's root logger; requests log through a child with their `request_id`. */
  logger: Logger;
  /** A Connect transport to the api-server. */
  transport: Transport;
  /** What GET /info reports. */
  info?: GatewayInfo;
  /** Largest accepted request body (default 10 MiB); larger ones get 413. */
  bodyLimitBytes?: number;
  /**
   * How much of a body over the limit is read and discarded before the 413, so that a client
   * still sending it gets the answer (default: up to 64 MiB, within 10 s).
   */
  oversizedBodyDrain?: Partial<OversizedBodyDrain>;
  /** Idle time after which an open event stream gets a heartbeat comment (default 5 s). */
  sseHeartbeatMs?: number;
  /**
   * Counts event streams in flight and gives back, at a stream's end, what large ones left: for
   * a gateway in a process of its own (a worker sharing the process already watches it).
   */
  streamCollector?: IdleCollector;
  /** How deep and how large JSON bodies may be (default DEFAULT_JSON_LIMITS); beyond: 413. */
  jsonLimits?: Partial<JsonLimits>;
  /** Most JSON-RPC requests in one MCP batch (default 20). */
  mcpMaxBatch?: number;
  /** API keys and the project's custom auth; neither: every request is let in (loopback use). */
  auth?: AuthOptions;
  /** `http` of the project's langgraph.json: CORS, the `disable_*` switches, allowed hosts. */
  http?: LanggraphHttpConfig;
  /**
   * Hosts requests may name in `Host` besides loopback names and the bound address
   * (LANGOPEN_ALLOWED_HOSTS, added to `http.allowed_hosts`); `*` turns the Host check off.
   */
  allowedHosts?: readonly string[];
  /** Where clients reach this server (LANGOPEN_PUBLIC_URL), for URLs it hands out; absent: its bound address. */
  publicUrl?: string;
  /**
   * A Connect transport to the runtime, which serves the project's custom routes (`http.app`):
   * requests no built-in route matches go there. Absent, or no `http.app`: they answer 404.
   */
  httpAppTransport?: Transport;
  /** The project declares UI components (`ui` of langgraph.json), which the runtime behind `httpAppTransport` serves. */
  ui?: boolean;
  /** How long a custom route may take to send its status and headers before the client gets 504 (default 60 s). */
  customRouteHeadTimeoutMs?: number;
  /** The registry GET /metrics serves, shared with the rest of the process; absent: the gateway's own. */
  metrics?: Registry;
  /** Other processes' metrics GET /metrics adds (under `npm start`, the runtime processes'). */
  moreMetrics?: MoreMetrics;
  /**
   * The built portal app served at /portal/ (`defaultPortalDir()` finds the workspace's); absent:
   * its page answers 404, its RPCs are served all the same.
   */
  portalDir?: string;
}

export const DEFAULT_BODY_LIMIT_BYTES = GATEWAY_DEFAULTS.BODY_LIMIT_BYTES;

/** Headers browsers may read from cross-origin answers: pagination, and the run URLs of later routes. */
export const EXPOSED_HEADERS = ["X-Pagination-Total", "X-Pagination-Next", "Content-Location", "Location", "X-Request-Id"];

/**
 * Request logging at the house-style levels: one debug line per answered request, errors are
 * logged by the error handler.
 */
class GatewayLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return;
    request.log.debug(
      { method: request.method, url: request.url, status_code: reply.statusCode, response_time_ms: reply.elapsedTime },
      "Answered request",
    );
  }

  override routeNotFound(): void {}
}

/**
 * `http.disable_webhooks`: runs and crons are still created and run, without their webhook. The
 * field is dropped from the bodies of run and cron routes before they are validated or sent on,
 * so no delivery is ever recorded (a batch of runs is a list of such bodies).
 */
async function dropWebhooks(request: FastifyRequest): Promise<void> {
  if (!request.routeOptions.url?.includes("/runs")) return;
  const body: unknown = request.body;
  for (const item of Array.isArray(body) ? body : [body]) {
    if (item !== null && typeof item === "object") delete (item as Record<string, unknown>).webhook;
  }
}

/**
 * The public LangGraph-compatible REST API over the api-server's RPCs. Pure: it holds no global
 * state and does not listen; the caller owns the transport and the logger.
 */
export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const bodyLimitBytes = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = Fastify({
    // Fastify types its instance by the logger's type; the plain Fastify logger type keeps ours interchangeable.
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new GatewayLogController({ requestIdLogLabel: "request_id" }),
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    bodyLimit: bodyLimitBytes,
    // Graph ids stand in for assistant ids in paths, so let them be long; `/threads/` is `/threads`.
    routerOptions: { maxParamLength: 500, ignoreTrailingSlash: true },
    // Errors met before routing (bad or too long paths) are answered by the error handler's rules too.
    frameworkErrors: answerFrameworkError,
    // Requests Node's HTTP parser refuses (e.g. headers too large) are answered in our shape too.
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });

  if (tracingEnabled()) {
    // A server span per request (its parent from the client's `traceparent`), first, so that every hook runs inside it.
    // The request's span only (a span per hook would cost more than it tells), none for the probes.
    const { FastifyOtelInstrumentation } = await import("@fastify/otel");
    const instrumentation = new FastifyOtelInstrumentation({
      instrumentHooks: false,
      instrumentHandler: false,
      ignorePaths: ({ url }) => url === "/ok" || url === "/health" || url === "/metrics",
      requestHook: (span) => span.setAttribute("langopen.component", "gateway"),
    });
    await app.register(instrumentation.plugin());
  }
  await app.register(jsonBodyPlugin, { limits: deps.jsonLimits });
  await app.register(errorHandlerPlugin, { bodyLimitBytes, oversizedBodyDrain: deps.oversizedBodyDrain });
  const http = deps.http ?? {};
  const allowedHosts = [...(http.allowed_hosts ?? []), ...(deps.allowedHosts ?? [])];
  // The doors' hooks run before all others but auth's: a request for another host or from a page
  // not allowed does nothing. After the error handler, whose answers their refusals are.
  await app.register(hostCheckPlugin, { allowedHosts });
  await app.register(corsPlugin, {
    cors: http.cors,
    exposedHeaders: EXPOSED_HEADERS,
    allowSameOrigin: hostCheckEnabled(allowedHosts),
  });
  await app.register(rpcClientsPlugin, { transport: deps.transport });
  await app.register(authPlugin, deps.auth ?? {});
  await app.register(ssePlugin, { heartbeatMs: deps.sseHeartbeatMs, collector: deps.streamCollector });
  await app.register(metricsPlugin, { registry: deps.metrics });
  if (!http.disable_meta) await app.register(openapiPlugin, { version: deps.info?.version });
  if (http.disable_webhooks) app.addHook("preValidation", dropWebhooks);

  // A switched-off part of the API is not registered at all: its paths answer 404 as unknown ones.
  await app.register(systemRoutes, { info: deps.info, meta: !http.disable_meta });
  // disable_runs takes crons, run webhooks and protocol v2 with it: each starts or reads runs.
  if (!http.disable_assistants) await app.register(assistantRoutes);
  if (!http.disable_threads) await app.register(threadRoutes);
  if (!http.disable_threads) await app.register(stateRoutes);
  if (!http.disable_runs) await app.register(runRoutes);
  if (!http.disable_runs) await app.register(cronRoutes);
  if (!http.disable_runs && !http.disable_webhooks) await app.register(webhookRoutes, { transport: deps.transport });
  if (!http.disable_store) await app.register(storeRoutes);
  if (!http.disable_a2a) await app.register(a2aRoutes, { publicUrl: deps.publicUrl });
  if (!http.disable_mcp) await app.register(mcpRoutes, { version: deps.info?.version, maxBatch: deps.mcpMaxBatch });
  if (!http.disable_runs) await app.register(protocolV2Routes);
  if (!http.disable_meta) await app.register(metricsRoutes, { more: deps.moreMetrics });
  await app.register(portalPlugin, {
    transport: deps.transport,
    dir: deps.portalDir,
    bodyLimitBytes,
    jsonLimits: app.jsonBodyLimits,
    http,
    oidc: deps.auth?.oidc?.settings,
  });
  // Last, and as a catch-all: the API's own routes always win over the project's.
  if ((http.app || deps.ui) && deps.httpAppTransport) {
    await app.register(customRoutes, {
      transport: deps.httpAppTransport,
      app: http.app !== undefined,
      ui: deps.ui === true,
      authenticate: http.enable_custom_route_auth === true,
      bodyLimitBytes,
      headTimeoutMs: deps.customRouteHeadTimeoutMs,
    });
  }

  // Callers get a plain instance: the TypeBox typing matters only inside the route plugins.
  return app.withTypeProvider<FastifyTypeProviderDefault>();
}
