import { randomUUID } from "node:crypto";
import type { Transport } from "@connectrpc/connect";
import cors from "@fastify/cors";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Logger } from "@langopen/common";
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
import { answerFrameworkError, errorHandlerPlugin } from "./plugins/error-handler.js";
import { jsonBodyPlugin } from "./plugins/json-body.js";
import { metricsPlugin } from "./plugins/metrics.js";
import { openapiPlugin } from "./plugins/openapi.js";
import type { OversizedBodyDrain } from "./plugins/oversized-body.js";
import { rpcClientsPlugin } from "./plugins/rpc-clients.js";
import { ssePlugin } from "./plugins/sse.js";
import { a2aRoutes } from "./routes/a2a/index.js";
import { assistantRoutes } from "./routes/assistants/index.js";
import { cronRoutes } from "./routes/crons/index.js";
import { mcpRoutes } from "./routes/mcp/index.js";
import { metricsRoutes } from "./routes/metrics/index.js";
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
  /** API keys and the project's custom auth; neither: every request is let in (loopback use). */
  auth?: AuthOptions;
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
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });

  await app.register(cors, { exposedHeaders: EXPOSED_HEADERS });
  await app.register(jsonBodyPlugin);
  await app.register(errorHandlerPlugin, { bodyLimitBytes, oversizedBodyDrain: deps.oversizedBodyDrain });
  await app.register(rpcClientsPlugin, { transport: deps.transport });
  await app.register(authPlugin, deps.auth ?? {});
  await app.register(ssePlugin, { heartbeatMs: deps.sseHeartbeatMs });
  await app.register(metricsPlugin);
  await app.register(openapiPlugin, { version: deps.info?.version });

  await app.register(systemRoutes, { info: deps.info });
  await app.register(assistantRoutes);
  await app.register(threadRoutes);
  await app.register(stateRoutes);
  await app.register(runRoutes);
  await app.register(cronRoutes);
  await app.register(webhookRoutes, { transport: deps.transport });
  await app.register(storeRoutes);
  await app.register(a2aRoutes);
  await app.register(mcpRoutes, { version: deps.info?.version });
  await app.register(protocolV2Routes);
  await app.register(metricsRoutes);

  // Callers get a plain instance: the TypeBox typing matters only inside the route plugins.
  return app.withTypeProvider<FastifyTypeProviderDefault>();
}
